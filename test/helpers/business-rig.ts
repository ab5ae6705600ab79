/**
 * The business app's machine core in-process against the REAL hardware
 * simulator (its driver and service, also in-process) on the real Redis,
 * with a stand-in for the mqtt app that records what reaches the `outbox`
 * queue. One rig per test: its own device id and key prefix.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { localDay, systemClock, type Clock } from '../../shared/clock.js';
import { redisMetrics } from '../../shared/metrics.js';
import { readPhysicalTruth, type PhysicalTruth } from '../../shared/physical-truth.js';
import { readMachineSnapshot, type MachineSnapshot } from '../../shared/machine-state.js';
import type { Envelope } from '../../shared/messages.js';
import { makeQueue, producerConnection, queueNames, workerConnection, type ControlJob, type HwCommand, type HwEvent, type OutboxJob } from '../../queue/index.js';
import { startBusiness, type BusinessService } from '../../workers/business/service.js';
import type { StuckPolicy } from '../../workers/business/exchange/recovery.js';
import { startHardwareService, type HardwareService } from '../../workers/hardware/service.js';
import { SimDriver } from '../../workers/hardware/sim/sim-driver.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor, type TestEnv } from './env.js';

export interface BusinessRigOptions {
  env?: Record<string, string>;
  clock?: Clock;
  stuck?: StuckPolicy;
  /** Start the simulator (default true). Without it the test feeds `hw-events` itself. */
  sim?: boolean;
  simInventory?: number;
  /** Use this env (e.g. a restart on the same prefix) instead of a fresh one. */
  reuse?: TestEnv;
}

export interface BusinessRig {
  t: TestEnv;
  redis: Redis;
  business: BusinessService;
  sim: SimDriver | null;
  /** Every message the business app put on the outbox, in order. */
  messages: Envelope[];
  of(type: string): Envelope[];
  /** A simulator action, as `coinerex sim …` does it. */
  act(job: ControlJob): Promise<string>;
  /** Feeds a hardware event directly (tests without the simulator). */
  feed(ev: HwEvent): Promise<void>;
  /** The hw-commands of `kind` the business app queued and BullMQ still holds, oldest first. */
  hwCommands(kind: HwCommand['kind']): Promise<HwCommand[]>;
  truth(): Promise<PhysicalTruth>;
  snapshot(): Promise<MachineSnapshot>;
  waitMessages(pred: (m: Envelope) => boolean, n: number, timeoutMs?: number): Promise<Envelope[]>;
  /** Waits until no payout is queued or out and every event was applied. */
  settle(timeoutMs?: number): Promise<void>;
  /** Stops business and simulator, keeps Redis state (for a restart). */
  stop(): Promise<void>;
  /** stop() and delete every key of the test. */
  close(): Promise<void>;
}

const log = pino({ level: process.env.COINEREX_TEST_LOG ?? 'silent' });

export async function startBusinessRig(o: BusinessRigOptions = {}): Promise<BusinessRig> {
  const t = o.reuse ?? testEnv({ COINEREX_SIM_INVENTORY: String(o.simInventory ?? 2000), ...o.env });
  const { config, keys } = t;
  const url = config.redisUrl;
  const redis = workerConnection(url);
  const hwRedis = workerConnection(url);
  const hwConsumer = workerConnection(url);
  const producer = producerConnection(url);
  for (const c of [redis, hwRedis, hwConsumer, producer]) c.on('error', () => undefined);
  const hwEvents = makeQueue<HwEvent>(queueNames.hwEvents, producer, keys.bullPrefix);
  const hwCommands = makeQueue<HwCommand>(queueNames.hwCommands, producer, keys.bullPrefix);
  let sim: SimDriver | null = null;
  let hardware: HardwareService | null = null;
  if (o.sim !== false) {
    sim = new SimDriver({ redis: hwRedis, keys, log }, { initialInventory: config.simInventory, payoutMs: 1, ...(o.clock ? { clock: o.clock } : {}) });
    hardware = await startHardwareService({ driver: sim, simulator: sim, hwEvents, connection: hwConsumer, prefix: keys.bullPrefix, log, customersPerMinute: 0 });
  }
  const connections = { producer: producerConnection(url), events: workerConnection(url), schedule: workerConnection(url) };
  for (const c of Object.values(connections)) c.on('error', () => undefined);
  const metrics = redisMetrics(redis, keys);
  const business = await startBusiness({ config, log, keys, redis, connections, clock: o.clock ?? systemClock, metrics, ...(o.stuck ? { stuck: o.stuck } : {}), stuckCheckMs: 100 });

  const messages: Envelope[] = [];
  const outboxConnection = workerConnection(url);
  outboxConnection.on('error', () => undefined);
  const outbox = new Worker<OutboxJob>(
    queueNames.outbox,
    async (job: Job<OutboxJob>) => {
      if (job.data.kind === 'message') messages.push(job.data.envelope);
    },
    { connection: outboxConnection, prefix: keys.bullPrefix, concurrency: 1 },
  );
  outbox.on('error', () => undefined);

  let stopped: Promise<void> | undefined;
  const rig: BusinessRig = {
    t,
    redis,
    business,
    sim,
    messages,
    of: (type) => messages.filter((m) => m.message_type === type),
    act: (job) => {
      if (!sim) throw new Error('no simulator in this rig');
      return sim.act(job);
    },
    feed: async (ev) => {
      await hwEvents.add(ev.kind, ev, { jobId: `hw-${ev.eventId}` });
    },
    hwCommands: async (kind) => {
      const jobs = await hwCommands.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
      return jobs
        .filter((j) => j.data.kind === kind)
        .sort((a, b) => a.timestamp - b.timestamp)
        .map((j) => j.data);
    },
    truth: () => readPhysicalTruth(redis, keys),
    snapshot: () => readMachineSnapshot(redis, keys, localDay((o.clock ?? systemClock).now(), config.timezone)),
    waitMessages: (pred, n, timeoutMs = 10_000) =>
      waitFor(() => {
        const found = messages.filter(pred);
        return found.length >= n ? found : null;
      }, timeoutMs, `${n} messages`),
    settle: async (timeoutMs = 10_000) => {
      let last = '';
      await waitFor(
        async () => {
          const counts = await hwEvents.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          const queued = Object.values(counts).reduce((a, b) => a + b, 0);
          const busy = await business.engine.busy();
          const unsent = await redis.llen(keys.unsent);
          last = JSON.stringify({ counts, busy, unsent });
          return queued === 0 && !busy && unsent === 0;
        },
        timeoutMs,
        'the machine to settle',
      ).catch((err: Error) => {
        throw new Error(`${err.message}; last ${last}`);
      });
    },
    stop: () =>
      (stopped ??= (async () => {
        await hardware?.close();
        await business.close();
        await metrics.close();
        await outbox.close();
        await hwEvents.close();
        await hwCommands.close();
        for (const c of [redis, hwRedis, hwConsumer, producer, outboxConnection, ...Object.values(connections)]) await c.quit().catch(() => c.disconnect());
      })()),
    close: async () => {
      await rig.stop();
      await cleanupRedis(t.prefix, url);
    },
  };
  return rig;
}

/** A transaction message's data, typed loosely for assertions. */
export const dataOf = (m: Envelope): any => m.data;

export type Report = Omit<Extract<HwEvent, { kind: 'status_report' }>, 'eventId' | 'at' | 'requestId' | 'kind'>;

/**
 * A hardware stand-in: records commands; answers report_status with `answer()` (none when it returns null).
 * A command `refuse` picks fails, as it would at a driver that could not take it.
 */
export async function fakeHardware(prefix: string, answer: () => Report | null, refuse: (c: HwCommand) => boolean = () => false) {
  const commands: HwCommand[] = [];
  const connection = workerConnection(REDIS_URL);
  const workerConn = workerConnection(REDIS_URL);
  const events = new Queue<HwEvent>(queueNames.hwEvents, { connection, prefix });
  let n = 0;
  const worker = new Worker<HwCommand>(
    queueNames.hwCommands,
    async (job: Job<HwCommand>) => {
      commands.push(job.data);
      if (refuse(job.data)) throw new Error(`${job.data.kind} refused by the fake hardware`);
      if (job.data.kind !== 'report_status') return;
      const r = answer();
      const eventId = `sr-${n++}-${job.data.requestId}`;
      if (r) await events.add('status_report', { kind: 'status_report', requestId: job.data.requestId, eventId, at: Date.now(), ...r }, { jobId: eventId });
    },
    { connection: workerConn, prefix, concurrency: 1 },
  );
  worker.on('error', () => undefined);
  return {
    commands,
    payouts: () => commands.filter((c): c is Extract<HwCommand, { kind: 'payout' }> => c.kind === 'payout'),
    close: async () => {
      await worker.close();
      await events.close();
      await connection.quit();
      await workerConn.quit();
    },
  };
}
