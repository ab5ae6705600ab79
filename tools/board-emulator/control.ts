/**
 * The emulator's control language: one command per line, one JSON answer
 * per line ({"ok":true,…} or {"ok":false,"error":…}). Served on stdin and on
 * a UNIX socket (main.ts).
 */
import { dispatchControl, wholeNumber as int, type ControlReply } from '../emulator-control.js';
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
  const cash = (kind: 'bill' | 'coin') => ([arg]: string[]): ControlReply => {
    const amount = int(arg, kind);
    const eventId = kind === 'bill' ? machine.insertBill(amount) : machine.insertCoin(amount);
    return eventId === null ? { ok: true, accepted: false } : { ok: true, accepted: true, eventId };
  };
  return dispatchControl(
    line,
    {
      bill: cash('bill'),
      coin: cash('coin'),
      stray: ([kind, value]) => {
        if (kind !== 'bill' && kind !== 'coin') throw new Error('stray: bill or coin');
        const amount = int(value, 'stray');
        return { ok: true, accepted: true, eventId: kind === 'bill' ? machine.insertBill(amount, true)! : machine.insertCoin(amount, true)! };
      },
      door: ([arg]) => {
        if (arg !== 'open' && arg !== 'close') throw new Error('door: open or close');
        return { ok: true, eventId: machine.door(arg === 'open') };
      },
      refill: ([arg]) => ({ ok: true, eventId: machine.refill(int(arg, 'refill')) }),
      inventory: ([arg]) => ({ ok: true, eventId: machine.setInventory(int(arg, 'inventory')) }),
      fault: ([arg]) => ({ ok: true, eventId: machine.raiseFault(int(arg, 'fault')) }),
      clear: ([arg]) => ({ ok: true, eventId: machine.clearFault(int(arg, 'clear')) }),
      jam: () => {
        machine.jamNext();
        return { ok: true };
      },
      mute: ([arg]) => {
        if (arg !== 'on' && arg !== 'off') throw new Error('mute: on or off');
        endpoint.muted = arg === 'on';
        return { ok: true };
      },
      hostile: ([arg]) => {
        if (!hostileKinds.includes(arg as HostileKind)) throw new Error(`hostile: one of ${hostileKinds.join(', ')}`);
        const bytes = hostileBytes(arg as HostileKind, endpoint.lastEventFrame);
        endpoint.send(bytes);
        return { ok: true, bytes: bytes.length };
      },
      state: () => ({ ok: true, state: machine.state, received: { ...endpoint.decoder.counters, ...endpoint.counters } }),
    },
    controlHelp,
  );
}
