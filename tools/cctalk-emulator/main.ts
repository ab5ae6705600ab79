/**
 * ccTalk emulator: a coin acceptor (address 2), a hopper (3) and a bill
 * validator with escrow (40) on one serial device, e.g. one end of
 * `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`.
 *
 *   npm run cctalk-emulator -- --device B [--control cctalk.sock] [--stdin] \
 *     [--inventory 100] [--coin-ms 5] [--bill-checksum crc16] [--dispense serial] \
 *     [--no-echo] [--baud 9600]
 *
 * Control commands (emulator.ts, `help`) come as lines on stdin or on the
 * UNIX socket. It exits 3 when the port closes (cable pulled), or with
 * --reopen waits for the device to come back, keeping its state.
 */
import { parseArgs } from 'node:util';
import type { ChecksumKind } from '../../shared/cctalk/frame.js';
import { runOnPort, serveControl } from '../emulator-control.js';
import { CctalkEmulator } from './emulator.js';

const { values: a } = parseArgs({
  options: {
    device: { type: 'string' },
    control: { type: 'string' },
    stdin: { type: 'boolean', default: false },
    inventory: { type: 'string', default: '100' },
    'coin-ms': { type: 'string', default: '50' },
    'coin-checksum': { type: 'string', default: 'simple' },
    'bill-checksum': { type: 'string', default: 'simple' },
    'hopper-checksum': { type: 'string', default: 'simple' },
    dispense: { type: 'string', default: 'plain' },
    'no-echo': { type: 'boolean', default: false },
    baud: { type: 'string', default: '9600' },
    reopen: { type: 'boolean', default: false },
  },
});
const log = (line: string): void => void process.stderr.write(`[cctalk-emulator ${new Date().toISOString()}] ${line}\n`);
const checksum = (v: string | undefined): ChecksumKind => (v === 'crc16' ? 'crc16' : 'simple');
if (!a.device) {
  log('usage: main.js --device PATH [--control SOCKET] [--stdin] [--inventory N] [--coin-ms N] [--bill-checksum simple|crc16] [--dispense plain|serial] [--no-echo]');
  process.exit(64);
}

const emulator = new CctalkEmulator((bytes) => port.write(bytes), {
  inventory: Number(a.inventory),
  coinMs: Number(a['coin-ms']),
  coinChecksum: checksum(a['coin-checksum']),
  billChecksum: checksum(a['bill-checksum']),
  hopperChecksum: checksum(a['hopper-checksum']),
  dispense: a.dispense === 'serial' ? 'serial' : 'plain',
  echo: !a['no-echo'],
});

const port = runOnPort({
  device: a.device,
  baudRate: Number(a.baud),
  log,
  // The host's adapter pulled: the devices keep power and state and wait for the port to come back.
  ...(a.reopen ? { reopenMs: 200 } : {}),
  onData: (chunk) => emulator.receive(chunk),
  onOpen: () => {
    log(`coin acceptor 2, hopper 3, bill validator 40 on ${a.device}`);
    serveControl((line) => emulator.control(line), { stdin: a.stdin, socket: a.control, log });
  },
  onStop: () => emulator.stop(),
});
