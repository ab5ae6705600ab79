/**
 * The business app's machine core, assembled: the exchange engine fed by
 * `hw-events`, faults, accounting and the daily close, status messages and
 * the lock, behind a MachinePort for the command pipeline. Its connections,
 * metrics and clock come from main.ts, which closes the connections after
 * it; tests start it in-process the same way.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { closeInOrder } from '../../shared/close.js';
import type { Config } from '../../shared/config.js';
import { trimJournal } from '../../shared/journal.js';
import type { RedisKeys } from '../../shared/keys.js';
import type { Metrics } from '../../shared/metrics.js';
import { readRuntimeSettings } from '../../shared/runtime-settings.js';
import { makeQueue, queueNames, type HwCommand, type OutboxJob } from '../../queue/index.js';
import { Accounting } from './accounting/accounting.js';
import { dailyCloseWorker, scheduleDailyClose } from './accounting/daily-close.js';
import type { BusinessDeps } from './deps.js';
import { ExchangeEngine } from './exchange/engine.js';
import { defaultStuckPolicy, type StuckPolicy } from './exchange/recovery.js';
import { Faults } from './faults/faults.js';
import { HardwareLink } from './hardware-link.js';
import { eventsWorker } from './events-worker.js';
import { BusinessMachine } from './machine/machine.js';
import { Condition } from './state/condition.js';
import { MemoryWatch } from './state/memory-watch.js';
import { LockControl } from './machine/lock.js';
import { Publisher } from './outbox/publisher.js';

export interface BusinessOptions {
  config: Config;
  log: Logger;
  keys: RedisKeys;
  /** The app's state connection. */
  redis: Redis;
  connections: BusinessConnections;
  clock: Clock;
  metrics: Metrics;
  /** Stuck-payout detection; defaults in exchange/recovery.ts, the wait from COINEREX_PAYOUT_STUCK_SECONDS. */
  stuck?: StuckPolicy;
  stuckCheckMs?: number;
}

export interface BusinessConnections {
  /** Fail-fast producer of `outbox`, `hw-commands` and the schedule. */
  producer: Redis;
  /** Blocking reads of the `hw-events` worker. */
  events: Redis;
  /** Blocking reads of the daily-close worker. */
  schedule: Redis;
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

export async function startBusiness(options: BusinessOptions): Promise<BusinessService> {
  const { config, log, keys, redis, clock } = options;
  const { producer } = options.connections;
  const outbox = makeQueue<OutboxJob>(queueNames.outbox, producer, keys.bullPrefix, log);
  const hwCommands = makeQueue<HwCommand>(queueNames.hwCommands, producer, keys.bullPrefix, log);
  const schedule = makeQueue(queueNames.businessSchedule, producer, keys.bullPrefix, log);

  const core: BusinessDeps = {
    redis,
    keys,
    config,
    clock,
    log,
    metrics: options.metrics,
    publisher: new Publisher(redis, keys, outbox, { deviceId: config.deviceId, version: config.protocolVersion, timestampFormat: config.timestampFormat, clock }, log),
    hardware: new HardwareLink(hwCommands),
    settings: { current: await readRuntimeSettings(redis, keys, config) },
  };
  const faults = new Faults(core);
  const condition = new Condition(core);
  const accounting = new Accounting(core);
  const engine = new ExchangeEngine(core, { faults, condition, accounting }, options.stuck ?? { ...defaultStuckPolicy, stuckAfterMs: config.payoutStuckSeconds * 1000 }, options.stuckCheckMs);
  const lock: LockControl = new LockControl(core, faults, () =>
    engine.act(() => lock.apply({ locked: false, reason: 'auto_unlock', operatorId: null, until: null, messageDisplay: null })),
  );
  const machine = new BusinessMachine(core, engine, condition, accounting, lock);

  await engine.act(() => lock.restore());
  await engine.start();
  condition.scheduleStatus();
  await trimJournal(redis, keys, clock.now());
  const memory = new MemoryWatch(core, faults, (fn) => engine.act(fn));
  memory.start();

  const events = eventsWorker(core, engine, faults, options.connections.events);
  await scheduleDailyClose(schedule, config.timezone);
  const dailyClose = dailyCloseWorker(core, options.connections.schedule, accounting, (fn) => engine.act(fn));

  const close = closeInOrder(
    [
      // Intake first; Worker.close() waits for the event in hand.
      { name: 'hw-events worker', run: () => events.close() },
      { name: 'schedule worker', run: () => dailyClose.close() },
      {
        name: 'timers',
        run: () => {
          engine.stop();
          memory.stop();
          condition.stop();
          lock.stop();
        },
      },
      { name: 'last change', run: () => engine.serial(async () => undefined) },
      { name: 'outbox hand-over', run: () => core.publisher.drain() },
      { name: 'queues', run: () => Promise.all([outbox.close(), hwCommands.close(), schedule.close()]) },
    ],
    { log },
  );

  return { machine, engine, accounting, outbox, close };
}
