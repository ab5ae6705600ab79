/**
 * The business app's machine core, assembled: the exchange engine fed by
 * `hw-events`, faults, accounting and the daily close, status messages and
 * the lock, behind a MachinePort for the command pipeline. main.ts starts it
 * with real connections; tests start it in-process the same way.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../shared/clock.js';
import type { Config } from '../../shared/config.js';
import { trimJournal } from '../../shared/journal.js';
import type { RedisKeys } from '../../shared/keys.js';
import { redisMetrics, type Metrics } from '../../shared/metrics.js';
import { readRuntimeSettings } from '../../shared/runtime-settings.js';
import {
  makeQueue,
  producerConnection,
  queueNames,
  workerConnection,
  type HwCommand,
  type OutboxJob,
} from '../../queue/index.js';
import { Accounting } from './accounting/accounting.js';
import { dailyCloseWorker, scheduleDailyClose } from './accounting/daily-close.js';
import type { BusinessDeps } from './deps.js';
import { ExchangeEngine } from './exchange/engine.js';
import { defaultStuckPolicy, type StuckPolicy } from './exchange/recovery.js';
import { Faults } from './faults/faults.js';
import { HardwareLink } from './hardware-link.js';
import { eventsWorker } from './events-worker.js';
import { BusinessMachine } from './machine.js';
import { Condition } from './machine/condition.js';
import { MemoryWatch } from './machine/memory-watch.js';
import { LockControl } from './machine/lock.js';
import { Publisher } from './outbox/publisher.js';

export interface BusinessOptions {
  config: Config;
  log: Logger;
  keys: RedisKeys;
  /** The app's state connection. */
  redis: Redis;
  clock?: Clock;
  metrics?: Metrics;
  /** Stuck-payout detection; defaults in exchange/recovery.ts, the wait from COINEREX_PAYOUT_STUCK_SECONDS. */
  stuck?: StuckPolicy;
  stuckCheckMs?: number;
}

export interface BusinessService {
  machine: BusinessMachine;
  engine: ExchangeEngine;
  accounting: Accounting;
  /** The producer of `outbox`, for the command pipeline. */
  outbox: Queue<OutboxJob>;
  /** Stop intake, finish the event in hand, close. Idempotent. */
  close(): Promise<void>;
}

export async function startBusiness(o: BusinessOptions): Promise<BusinessService> {
  const { config, log, keys, redis } = o;
  const clock = o.clock ?? systemClock;
  const producer = producerConnection(config.redisUrl, `${config.deviceId}:business:producer`);
  producer.on('error', (err) => log.warn({ err: err.message }, 'producer connection error'));
  const outbox = makeQueue<OutboxJob>(queueNames.outbox, producer, keys.bullPrefix, log);
  const hwCommands = makeQueue<HwCommand>(queueNames.hwCommands, producer, keys.bullPrefix, log);
  const schedule = makeQueue(queueNames.businessSchedule, producer, keys.bullPrefix, log);

  const d: BusinessDeps = {
    redis,
    keys,
    config,
    clock,
    log,
    metrics: o.metrics ?? redisMetrics(redis, keys),
    publisher: new Publisher(redis, keys, outbox, { deviceId: config.deviceId, version: config.protocolVersion, timestampFormat: config.timestampFormat, clock }, log),
    hardware: new HardwareLink(hwCommands),
    settings: { current: await readRuntimeSettings(redis, keys, config) },
  };
  const faults = new Faults(d);
  const condition = new Condition(d);
  const accounting = new Accounting(d);
  const engine = new ExchangeEngine(d, { faults, condition, accounting }, o.stuck ?? { ...defaultStuckPolicy, stuckAfterMs: config.payoutStuckSeconds * 1000 }, o.stuckCheckMs);
  const lock: LockControl = new LockControl(d, faults, () =>
    engine.act(() => lock.apply({ locked: false, reason: 'auto_unlock', operatorId: null, until: null, messageDisplay: null })),
  );
  const machine = new BusinessMachine(d, engine, condition, accounting, lock);

  await engine.act(() => lock.restore());
  await engine.start();
  condition.scheduleStatus();
  await trimJournal(redis, keys, clock.now());
  const memory = new MemoryWatch(d, faults, (fn) => engine.act(fn));
  memory.start();

  const eventConnection = workerConnection(config.redisUrl, `${config.deviceId}:business:hw-events`);
  const scheduleConnection = workerConnection(config.redisUrl, `${config.deviceId}:business:schedule`);
  for (const c of [eventConnection, scheduleConnection]) c.on('error', (err) => log.warn({ err: err.message }, 'worker connection error'));
  const events = eventsWorker(d, engine, faults, eventConnection);
  await scheduleDailyClose(schedule, config.timezone);
  const closer = dailyCloseWorker(d, scheduleConnection, accounting, (fn) => engine.act(fn));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const step = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          log.warn({ err, what }, 'close step failed');
        }
      };
      // Intake first; Worker.close() waits for the event in hand.
      await step('hw-events worker', () => events.close());
      await step('schedule worker', () => closer.close());
      engine.stop();
      memory.stop();
      condition.stop();
      lock.stop();
      await step('last change', () => engine.serial(async () => undefined));
      await step('outbox hand-over', () => d.publisher.drain());
      await step('queues', () => Promise.all([outbox.close(), hwCommands.close(), schedule.close()]));
      for (const c of [eventConnection, scheduleConnection, producer]) await step('connection', () => c.quit());
    })());

  return { machine, engine, accounting, outbox, close };
}
