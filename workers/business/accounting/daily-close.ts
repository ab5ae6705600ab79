/**
 * The daily close (docs/protocol.md#accounting), from a BullMQ job scheduler with the
 * configured time zone on a business-internal queue. It runs at local
 * midnight and closes the day that just ended, so the exchanges of
 * 23:59:00–23:59:59 are in it (a close at 23:59 would leave them out,
 * docs/cloud-interop.md). The job closes the day it was scheduled for (its
 * `prevMillis`), so a board that was off at midnight and runs the overdue
 * job later still reports the right day (docs/pitfalls.md#1-bullmq: no backfill, one
 * overdue run).
 */
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { trimJournal } from '../../../shared/journal.js';
import { makeWorker, queueNames } from '../../../queue/index.js';
import type { BusinessDeps } from '../deps.js';
import type { Accounting } from './accounting.js';

export const DAILY_CLOSE_SCHEDULER = 'daily-close';
/** Seconds field first: 00:00:00 every day, closing the day before. */
export const DAILY_CLOSE_PATTERN = '0 0 0 * * *';

export async function scheduleDailyClose(queue: Queue, timeZone: string): Promise<void> {
  await queue.upsertJobScheduler(DAILY_CLOSE_SCHEDULER, { pattern: DAILY_CLOSE_PATTERN, tz: timeZone }, { name: DAILY_CLOSE_SCHEDULER, data: {} });
}

export function dailyCloseWorker(
  core: BusinessDeps,
  connection: Redis,
  accounting: Accounting,
  /** Runs the close in line with the machine's other changes. */
  act: <T>(fn: () => Promise<T>) => Promise<T>,
): Worker {
  return makeWorker(
    queueNames.businessSchedule,
    async (job: Job) => {
      const at = job.opts.prevMillis ?? core.clock.now();
      await act(() => accounting.closeDay(at));
      const trimmed = await trimJournal(core.redis, core.keys, core.clock.now());
      if (trimmed > 0) core.log.info({ trimmed }, 'old journal entries trimmed');
    },
    connection,
    core.keys.bullPrefix,
    core.log,
  );
}
