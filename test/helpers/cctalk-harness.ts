/**
 * A ccTalk driver wired through a real pty pair (socat) to the ccTalk
 * emulator, which runs in this process on the other end, with its state in
 * the real Redis under a test prefix. For the cctalk-*.test.ts files.
 */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { SerialPort } from 'serialport';
import type { HwEvent } from '../../queue/jobs.js';
import { workerConnection } from '../../shared/redis.js';
import { CctalkEmulator, type EmulatorOptions } from '../../tools/cctalk-emulator/emulator.js';
import { createCctalkDriver, type CctalkDriver, type CctalkDriverOptions } from '../../workers/hardware/cctalk/index.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor, type TestEnv } from './env.js';
import { ptyPair, type PtyPair } from './pty.js';

export const WAIT_MS = 10_000;

/** Fast timings: a poll every 20 ms, a reply awaited 80 ms, a device gone after 3 missed polls. */
export const fastBus: Partial<CctalkDriverOptions> = { pollMs: 20, payoutPollMs: 10, timeoutMs: 80, missLimit: 3, reopenMinMs: 50, reopenMaxMs: 400, startWaitMs: 5000 };

export interface CctalkRig {
  env: TestEnv;
  pty: PtyPair;
  emulator: CctalkEmulator;
  redis: Redis;
  driver: CctalkDriver;
  /** Every event the driver delivered, in order (across driver restarts). */
  events: HwEvent[];
  /** A new driver on the same pty and Redis (the old one must be closed). */
  newDriver(): CctalkDriver;
  /** Pulls the cable (socat killed) and plugs a new one in; the emulator reopens its end. */
  replug(): Promise<void>;
  unplug(): Promise<void>;
  plug(): Promise<void>;
  of<K extends HwEvent['kind']>(kind: K, where?: (e: Extract<HwEvent, { kind: K }>) => boolean): Extract<HwEvent, { kind: K }>[];
  next<K extends HwEvent['kind']>(kind: K, where?: (e: Extract<HwEvent, { kind: K }>) => boolean): Promise<Extract<HwEvent, { kind: K }>>;
  /** Runs an emulator control line; throws if it is refused. */
  control(line: string): Record<string, unknown>;
  dispose(): Promise<void>;
}

export interface CctalkRigOptions {
  emulator?: EmulatorOptions;
  driver?: Partial<CctalkDriverOptions>;
  /** Extra COINEREX_* settings (e.g. the bill validator's checksum). */
  env?: Record<string, string>;
  /** Runs before an event is recorded; a throw means the sink failed. */
  sink?: (e: HwEvent) => Promise<void> | void;
  start?: boolean;
}

export async function cctalkRig(o: CctalkRigOptions = {}): Promise<CctalkRig> {
  const env = testEnv({ COINEREX_HARDWARE: 'cctalk', COINEREX_CCTALK_PATH: '/dev/null', ...o.env });
  const pty = await ptyPair();
  const redis = workerConnection(REDIS_URL);
  const events: HwEvent[] = [];
  const log = pino({ level: process.env.COINEREX_TEST_LOG ?? 'silent' });
  let boardPort: SerialPort | undefined;
  const emulator = new CctalkEmulator((bytes) => void (boardPort?.isOpen && boardPort.write(bytes)), {
    coinChecksum: env.config.cctalkCoinChecksum,
    billChecksum: env.config.cctalkBillChecksum,
    hopperChecksum: env.config.cctalkHopperChecksum,
    dispense: env.config.cctalkHopperDispense,
    ...o.emulator,
  });
  const openBoard = async (): Promise<void> => {
    const port = new SerialPort({ path: pty.boardPath, baudRate: env.config.cctalkBaud, autoOpen: false });
    port.on('data', (chunk: Buffer) => emulator.receive(chunk));
    port.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    boardPort = port;
  };
  const closeBoard = async (): Promise<void> => {
    const port = boardPort;
    boardPort = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  };
  await openBoard();
  const newDriver = (): CctalkDriver => {
    const d = createCctalkDriver({ ...env.config, cctalkPath: pty.agentPath }, { redis, keys: env.keys, log }, { ...fastBus, ...o.driver });
    d.onEvent(async (e) => {
      await o.sink?.(e);
      events.push(e);
    });
    return d;
  };
  const rig: CctalkRig = {
    env,
    pty,
    emulator,
    redis,
    driver: newDriver(),
    events,
    newDriver: () => (rig.driver = newDriver()),
    unplug: async () => {
      await pty.kill();
      await closeBoard();
    },
    plug: async () => {
      await pty.start();
      await openBoard();
    },
    replug: async () => {
      await rig.unplug();
      await rig.plug();
    },
    of: (kind, where = () => true) => events.filter((e) => e.kind === kind && where(e as never)) as never,
    next: (kind, where) => waitFor(() => rig.of(kind, where)[0], WAIT_MS, `a ${kind} event`),
    control: (line) => {
      const reply = emulator.control(line);
      if (!reply.ok) throw new Error(`emulator: ${line}: ${reply.error}`);
      return reply;
    },
    dispose: async () => {
      await rig.driver.close();
      emulator.stop();
      await closeBoard();
      await pty.dispose();
      await cleanupRedis(env.prefix);
      redis.disconnect();
    },
  };
  if (o.start ?? true) await rig.driver.start();
  return rig;
}
