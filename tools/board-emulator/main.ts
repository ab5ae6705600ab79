/**
 * Board emulator: plays the machine's controller board on a serial device
 * (e.g. one end of `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`).
 *
 *   node dist/tools/board-emulator/main.js --device B --state board.json \
 *     [--control board.sock] [--stdin] [--coin-ms 100] [--event-retry-ms 250] \
 *     [--inventory 500] [--low-level 20] [--baud 115200]
 *
 * Control commands (control.ts) come as lines on stdin (--stdin) or on the
 * UNIX socket. It exits 3 when the port closes (cable pulled); restarted
 * with the same state file it remembers payouts and un-ACKed events.
 */
import { parseArgs } from 'node:util';
import { runOnPort, serveControl } from '../emulator-control.js';
import { runControl } from './control.js';
import { BoardEndpoint } from './endpoint.js';
import { Machine } from './machine.js';
import { loadState, saveState } from './state.js';

const { values: a } = parseArgs({
  options: {
    device: { type: 'string' },
    state: { type: 'string' },
    control: { type: 'string' },
    stdin: { type: 'boolean', default: false },
    'coin-ms': { type: 'string', default: '100' },
    'event-retry-ms': { type: 'string', default: '250' },
    inventory: { type: 'string', default: '500' },
    'low-level': { type: 'string', default: '20' },
    baud: { type: 'string', default: '115200' },
  },
});
const log = (line: string): void => void process.stderr.write(`[board-emulator ${new Date().toISOString()}] ${line}\n`);
if (!a.device || !a.state) {
  log('usage: main.js --device PATH --state FILE [--control SOCKET] [--stdin] [--coin-ms N] [--event-retry-ms N] [--inventory N] [--low-level N]');
  process.exit(64);
}
const stateFile = a.state;
const save = (s: Parameters<typeof saveState>[1]): void => saveState(stateFile, s);

const state = loadState(stateFile, Number(a.inventory));
save(state);
const machine = new Machine(state, { coinMs: Number(a['coin-ms']), lowLevel: Number(a['low-level']), save, onEvent: () => endpoint.pump(), now: Date.now });
const endpoint = new BoardEndpoint(machine, {
  write: (bytes) => port.write(bytes),
  eventRetryMs: Number(a['event-retry-ms']),
  log,
});
const port = runOnPort({
  device: a.device,
  baudRate: Number(a.baud),
  log,
  onData: (chunk) => endpoint.receive(chunk),
  onOpen: () => {
    log(`board ${state.boardId} on ${a.device}, ${state.pending.length} pending events`);
    machine.recover();
    endpoint.pump();
    serveControl((line) => runControl(line, machine, endpoint), { stdin: a.stdin, socket: a.control, log });
  },
  onStop: () => {
    machine.stop();
    endpoint.close();
  },
});
