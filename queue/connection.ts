/**
 * BullMQ queues and workers with the options BullMQ's production guide
 * requires (docs/pitfalls.md#1-bullmq, docs/pitfalls.md#3-redis-durability-and-ioredis), in one place. Connections: shared/redis.ts.
 */
import type { Redis } from 'ioredis';
import { Queue, Worker, type Processor, type WorkerOptions, type JobsOptions } from 'bullmq';
import type { Logger } from 'pino';
import { queueNames, type QueueName } from './names.js';
import { onWallClockGrid } from '../shared/clock.js';
import { checkStalledJobs } from './stalled-check.js';

/** Finished jobs are trimmed; failed ones kept for inspection a week (docs/pitfalls.md#1-bullmq). */
export const defaultJobOptions: JobsOptions = {
  removeOnComplete: { count: 200 },
  removeOnFail: { age: 7 * 86_400, count: 1000 },
};

/**
 * Finished `hw-commands` jobs are kept this long, by age rather than count, so that within the window a
 * payout command missing from the queue was never added (workers/business/hardware-link.ts). A policy is
 * the queue's, not a job's: BullMQ trims the whole finished set by the policy of the job that finishes
 * (docs/pitfalls.md#1-bullmq).
 */
export const HW_COMMANDS_KEEP_SECONDS = 3600;

/**
 * Length of each queue's BullMQ `events` stream (BullMQ's default: 10,000). Nothing in the agent reads it
 * (no QueueEvents, no `waitUntilFinished`): it only shows recent job transitions to someone with
 * redis-cli. At BullMQ's default the streams of a busy agent hold ~4 MB of Redis memory (~115 bytes an
 * entry, six entries a job). Redis trims whole stream nodes of 100 entries, so up to ~200 stay.
 */
export const QUEUE_EVENTS_MAX_LEN = 100;

const jobOptionsOf = (name: QueueName): JobsOptions =>
  name === queueNames.hwCommands ? { ...defaultJobOptions, removeOnComplete: { age: HW_COMMANDS_KEEP_SECONDS } } : defaultJobOptions;

export function makeQueue<T = unknown>(name: QueueName, connection: Redis, prefix: string, log?: Logger): Queue<T> {
  // The cap is the queue's meta field, which every job script of the queue reads.
  const q = new Queue<T>(name, { connection, prefix, defaultJobOptions: jobOptionsOf(name), streams: { events: { maxLen: QUEUE_EVENTS_MAX_LEN } } });
  q.on('error', (err) => log?.error({ err, queue: name }, 'queue error'));
  return q as Queue<T>;
}

/** BullMQ's default `stalledInterval`. */
const STALLED_INTERVAL_MS = 30_000;

export function makeWorker<T = unknown>(
  name: QueueName,
  processor: Processor<T>,
  connection: Redis,
  prefix: string,
  log?: Logger,
  opts: Partial<WorkerOptions> = {},
): Worker<T> {
  // An idle worker re-polls when its blocking pop times out (BullMQ's default: every 5 s); a new job
  // wakes it at once, so 10 s (BullMQ's own ceiling for a blocking pop) only halves the idle wake-ups.
  const w = new Worker<T>(name, processor, { connection, prefix, concurrency: 1, drainDelay: 10, skipStalledCheck: true, ...opts });
  // BullMQ's stalled-job check at BullMQ's interval, on the wall-clock grid of the agent's other
  // periodic writes so they share fsyncs, skipped when there is nothing to check (queue/stalled-check.ts);
  // once at start, as BullMQ does.
  const check = () => checkStalledJobs(w as Worker, connection).catch((err: Error) => log?.warn({ err, queue: name }, 'stalled-job check failed'));
  void w.waitUntilReady().then(check, () => undefined);
  const stopChecks = onWallClockGrid(STALLED_INTERVAL_MS, check);
  w.once('closing', stopChecks);
  w.on('error', (err) => log?.error({ err, queue: name }, 'worker error'));
  w.on('failed', (job, err) => log?.warn({ err, queue: name, jobId: job?.id }, 'job failed'));
  return w;
}
