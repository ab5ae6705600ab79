/**
 * BullMQ's stalled-job check on the agent's own timer, skipped when it has
 * nothing to act on (docs/pitfalls.md#1-bullmq). BullMQ's check
 * (moveStalledJobsToWait Lua) moves the jobs of the `stalled` set whose lock
 * is gone back to wait, then marks every job of `active` as possibly stalled;
 * with both empty it only writes its throttle key, an fsync at idle. Two
 * reads in one round trip decide; an active job is still marked at one check
 * and moved at the next.
 */
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/** True when the queue has an active job or a job marked stalled: the check may act. */
export async function stalledCheckNeeded(worker: Worker, redis: Redis): Promise<boolean> {
  const replies = await redis.pipeline().llen(worker.toKey('active')).scard(worker.toKey('stalled')).exec();
  if (!replies) return true;
  for (const [err] of replies) if (err) throw err;
  return replies.some(([, n]) => Number(n) > 0);
}

/** One stalled-job check, skipped when nothing could be moved or marked. */
export async function checkStalledJobs(worker: Worker, redis: Redis): Promise<void> {
  if (!(await stalledCheckNeeded(worker, redis))) return;
  // Private in BullMQ 6.7's typings (docs/pitfalls.md#1-bullmq).
  await (worker as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
}
