/**
 * A serial driver wired to the board emulator through a real pty pair, with
 * fast timings, for the serial-*.test.ts files. Everything lives in one temp
 * folder and is removed by `dispose`.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import type { HwEvent } from '../../queue/jobs.js';
import { startEmulator, type EmulatorOptions, type EmulatorProcess } from '../../tools/board-emulator/client.js';
import { createSerialDriver, type SerialDriver, type SerialDriverOptions } from '../../workers/hardware/serial/index.js';
import { waitFor } from './env.js';
import { ptyPair, type PtyPair } from './pty.js';

/** Link timings for tests: a dead board is noticed in about a second, a reopen follows within half a second. */
export const fastLink = { responseTimeoutMs: 250, retries: 3, pingIntervalMs: 300, reopenMinMs: 50, reopenMaxMs: 500, startWaitMs: 5000 } as const;

export interface SerialRig {
  pty: PtyPair;
  board: EmulatorProcess;
  driver: SerialDriver;
  /** Every event the driver delivered, in order. */
  events: HwEvent[];
  /** Starts the emulator again on the same state file (after a kill). */
  restartBoard(): Promise<EmulatorProcess>;
  /** A new driver on the same pty, recording into `events` (the old one must be closed). */
  newDriver(): SerialDriver;
  next<K extends HwEvent['kind']>(kind: K, where?: (e: Extract<HwEvent, { kind: K }>) => boolean): Promise<Extract<HwEvent, { kind: K }>>;
  of<K extends HwEvent['kind']>(kind: K, where?: (e: Extract<HwEvent, { kind: K }>) => boolean): Extract<HwEvent, { kind: K }>[];
  dispose(): Promise<void>;
}

export interface SerialRigOptions {
  inventory?: number;
  coinMs?: number;
  eventRetryMs?: number;
  driver?: Partial<SerialDriverOptions>;
  /** Runs before an event is recorded; a throw means the sink failed. */
  sink?: (e: HwEvent) => Promise<void> | void;
  /** Start the driver (default true). */
  start?: boolean;
}

export const WAIT_MS = 10_000;

export async function serialRig(o: SerialRigOptions = {}): Promise<SerialRig> {
  const pty = await ptyPair();
  const boardOpts: EmulatorOptions = {
    device: pty.boardPath,
    stateFile: join(pty.dir, 'board.json'),
    control: join(pty.dir, 'board.sock'),
    coinMs: o.coinMs ?? 5,
    eventRetryMs: o.eventRetryMs ?? 100,
    inventory: o.inventory ?? 100,
  };
  const events: HwEvent[] = [];
  const log = pino({ level: process.env.COINEREX_TEST_LOG ?? 'silent' });
  const newDriver = (): SerialDriver => {
    const d = createSerialDriver({ path: pty.agentPath, baudRate: 115_200, log, ...fastLink, ...o.driver });
    d.onEvent(async (e) => {
      await o.sink?.(e);
      events.push(e);
    });
    return d;
  };
  const rig: SerialRig = {
    pty,
    board: await startEmulator(boardOpts),
    driver: newDriver(),
    events,
    restartBoard: async () => (rig.board = await startEmulator(boardOpts)),
    newDriver: () => (rig.driver = newDriver()),
    of: (kind, where = () => true) => events.filter((e) => e.kind === kind && where(e as never)) as never,
    next: (kind, where) => waitFor(() => rig.of(kind, where)[0], WAIT_MS, `a ${kind} event`),
    dispose: async () => {
      await rig.driver.close();
      await rig.board.kill();
      await pty.dispose();
    },
  };
  if (o.start ?? true) await rig.driver.start();
  return rig;
}
