/**
 * The emulator's control language: one command per line, one JSON answer
 * per line ({"ok":true,…} or {"ok":false,"error":…}). Served on stdin and on
 * a UNIX socket (main.ts).
 */
import { wholeNumber as int, type ControlReply } from '../emulator-control.js';
import type { BoardEndpoint } from './endpoint.js';
import { hostileBytes, hostileKinds, type HostileKind } from './hostile.js';
import type { Machine } from './machine.js';

export const controlHelp = [
  'bill 100|200|500|1000|2000  insert a bill (handed back when acceptors are disabled or it is inhibited)',
  'coin 1|5|10|50           insert a coin (likewise)',
  'stray bill|coin <ntd>    an acceptor that stacks any value, inhibited or not',
  'door open|close',
  'refill <coins>           add coins to the hopper',
  'inventory <coins>        set the hopper count',
  'fault <code> / clear <code>',
  'jam                      the next coin jams the hopper (fault 41)',
  'mute on|off              a hung board: read and send nothing',
  `hostile ${hostileKinds.join('|')}`,
  'state                    state and counters as JSON',
];


export function runControl(line: string, machine: Machine, endpoint: BoardEndpoint): ControlReply {
  const [cmd, arg] = line.trim().split(/\s+/);
  try {
    switch (cmd) {
      case 'bill':
      case 'coin': {
        const amount = int(arg, cmd);
        const eventId = cmd === 'bill' ? machine.insertBill(amount) : machine.insertCoin(amount);
        return eventId === null ? { ok: true, accepted: false } : { ok: true, accepted: true, eventId };
      }
      case 'stray': {
        const [, kind, value] = line.trim().split(/\s+/);
        if (kind !== 'bill' && kind !== 'coin') throw new Error('stray: bill or coin');
        const amount = int(value, 'stray');
        return { ok: true, accepted: true, eventId: kind === 'bill' ? machine.insertBill(amount, true)! : machine.insertCoin(amount, true)! };
      }
      case 'door':
        if (arg !== 'open' && arg !== 'close') throw new Error('door: open or close');
        return { ok: true, eventId: machine.door(arg === 'open') };
      case 'refill':
        return { ok: true, eventId: machine.refill(int(arg, 'refill')) };
      case 'inventory':
        return { ok: true, eventId: machine.setInventory(int(arg, 'inventory')) };
      case 'fault':
        return { ok: true, eventId: machine.raiseFault(int(arg, 'fault')) };
      case 'clear':
        return { ok: true, eventId: machine.clearFault(int(arg, 'clear')) };
      case 'jam':
        machine.jamNext();
        return { ok: true };
      case 'mute':
        if (arg !== 'on' && arg !== 'off') throw new Error('mute: on or off');
        endpoint.muted = arg === 'on';
        return { ok: true };
      case 'hostile': {
        if (!hostileKinds.includes(arg as HostileKind)) throw new Error(`hostile: one of ${hostileKinds.join(', ')}`);
        const bytes = hostileBytes(arg as HostileKind, endpoint.lastEventFrame);
        endpoint.send(bytes);
        return { ok: true, bytes: bytes.length };
      }
      case 'state':
        return { ok: true, state: machine.state, received: { ...endpoint.decoder.counters, ...endpoint.counters } };
      case 'help':
        return { ok: true, help: controlHelp };
      default:
        throw new Error(`unknown command ${cmd ?? ''}; try help`);
    }
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
