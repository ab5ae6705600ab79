/**
 * The hardware app's service: driver events become `hw-events` jobs,
 * `hw-commands` jobs are executed on the driver one at a time, `control`
 * jobs (`coinerex sim …`) act on the simulator, and in the demo profile
 * simulated customers insert cash.
 */
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job, type Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { controlJobSchema, hwCommandSchema, hwEventJobId, queueNames, makeWorker, type HwEvent } from '../../queue/index.js';
import { closeInOrder } from '../../shared/close.js';
import { isOomError } from '../../shared/redis-memory.js';
import { DriverError, type HardwareDriver } from './driver.js';
import type { Simulator } from './sim/sim-driver.js';
import { CustomerGenerator } from './sim/customers.js';

/**
 * A business-side failure must not strand a money event: retried with
 * back-off (1 s doubling, about 17 min in all), then kept in `failed`
 * for a week (queue/connection.ts) to be re-driven by hand.
 */
const hwEventJobOptions: JobsOptions = { attempts: 11, backoff: { type: 'exponential', delay: 1_000 } };

export interface HardwareServiceDeps {
  driver: HardwareDriver;
  /** Present with the simulator only. */
  simulator?: Simulator;
  /** Producer of `hw-events`. */
  hwEvents: Queue<HwEvent>;
  /** Connection for the `hw-commands` and `control` workers. */
  connection: Redis;
  /** BullMQ prefix (`keys.bullPrefix`). */
  prefix: string;
  log: Logger;
  /** Simulated customers per minute; 0 = none (always 0 outside the demo profile). */
  customersPerMinute: number;
  random?: () => number;
}

export interface HardwareService {
  /** Stop intake, finish the job in hand, close the driver, then the queue. Idempotent. */
  close(): Promise<void>;
}

export async function startHardwareService(deps: HardwareServiceDeps): Promise<HardwareService> {
  const { driver, simulator, hwEvents, connection, prefix, log } = deps;

  const job = (event: HwEvent) => ({ name: event.kind, data: event, opts: { ...hwEventJobOptions, jobId: hwEventJobId(event.eventId) } });
  const add = async (events: readonly HwEvent[]) => {
    // Several events (a burst, a backlog after an outage) go to Redis in one pipeline.
    if (events.length === 1) {
      const { name, data, opts } = job(events[0]!);
      await hwEvents.add(name, data, opts);
    } else {
      await hwEvents.addBulk(events.map(job));
    }
  };
  /**
   * Set while the acceptors were switched off here because Redis refused an
   * event for memory: the business app cannot be told then (its queue is a
   * Redis write too). The next event that gets through carries the off state
   * as an `acceptors_set`, so the business app sends its own wish again.
   */
  let offForMemory = false;
  const queueEvents = async (events: readonly HwEvent[]) => {
    try {
      await add(events);
    } catch (err) {
      if (isOomError(err) && !offForMemory) {
        offForMemory = true;
        log.error({ err: (err as Error).message }, 'Redis refused a hardware event for memory: acceptors off (the event stays with the hardware)');
        await driver.execute({ kind: 'set_acceptors', enabled: false }).catch((e: unknown) => log.error({ err: e }, 'switching the acceptors off failed'));
      }
      throw err;
    }
    if (offForMemory) {
      await add([{ eventId: `acceptors-${randomUUID()}`, at: Date.now(), kind: 'acceptors_set', enabled: false, inhibit: [] }]);
      offForMemory = false;
      log.warn('Redis takes events again; the business app sets the acceptors');
    }
    if (log.isLevelEnabled('debug')) log.debug({ events }, 'hardware events queued');
  };
  if (driver.onEvents) driver.onEvents(queueEvents);
  else driver.onEvent((event) => queueEvents([event]));
  await driver.start();

  const commands = makeWorker(
    queueNames.hwCommands,
    async (job: Job) => {
      const parsed = hwCommandSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid hw-command: ${parsed.error.message}`);
      try {
        await driver.execute(parsed.data);
        // What the hardware took, whatever the driver: the business app stores it as confirmed and resends until it matches.
        const cmd = parsed.data;
        if (cmd.kind === 'set_acceptors') {
          await queueEvents([{ eventId: `acceptors-${randomUUID()}`, at: Date.now(), kind: 'acceptors_set', enabled: cmd.enabled, inhibit: cmd.inhibit ?? [] }]);
        }
      } catch (err) {
        // A malformed command never becomes valid; a link that is down may come back (retried if the sender asked).
        if (err instanceof DriverError && err.code === 'INVALID') throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    connection,
    prefix,
    log,
    { concurrency: 1 },
  );

  const control = makeWorker(
    queueNames.control,
    async (job: Job) => {
      const parsed = controlJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid control job: ${parsed.error.message}`);
      if (!simulator) throw new UnrecoverableError('simulator actions need the simulator (COINEREX_HARDWARE=sim)');
      const outcome = await simulator.act(parsed.data);
      // Cash inserted is the start of an exchange (one per exchange under load): not worth an info line each.
      const cash = parsed.data.action === 'bill' || parsed.data.action === 'coin';
      log[cash ? 'debug' : 'info']({ action: parsed.data, outcome }, 'simulator action');
      return outcome;
    },
    connection,
    prefix,
    log,
    { concurrency: 1 },
  );

  const customers =
    simulator && deps.customersPerMinute > 0
      ? new CustomerGenerator({ perMinute: deps.customersPerMinute, insert: (a) => simulator.insertCash(a), log, random: deps.random })
      : undefined;
  customers?.start();

  return {
    close: closeInOrder(
      [
        { name: 'customers', run: () => customers?.stop() },
        { name: 'workers', run: () => Promise.all([commands.close(), control.close()]) },
        { name: 'driver', run: () => driver.close() },
        { name: 'hw-events queue', run: () => hwEvents.close() },
      ],
      { log },
    ),
  };
}

