/**
 * The stalled-job check writes nothing when the queue has nothing it could
 * act on (issue 14: BullMQ's check writes its throttle key, an fsync, even on
 * an idle queue), and still moves a job whose lock is gone back to wait
 * within two checks: marked stalled at one, moved at the next.
 */
import test from 'ava';
import { Worker } from 'bullmq';
import { checkStalledJobs, makeQueue, queueNames, workerConnection } from '../../queue/index.js';
import { cleanupRedis, REDIS_URL, testEnv } from '../helpers/env.js';

const env = testEnv();
const redis = workerConnection(REDIS_URL, `${env.deviceId}:stalled-test`);
const name = queueNames.control;
const queue = makeQueue(name, redis, env.keys.bullPrefix);
// Not started: jobs are taken by hand, and BullMQ's own check is off as in queue/connection.ts.
const worker = new Worker(name, null, { connection: redis, prefix: env.keys.bullPrefix, autorun: false, skipStalledCheck: true });
const key = (suffix: string) => worker.toKey(suffix);

test.after.always(async () => {
  await worker.close(true);
  await queue.close();
  await cleanupRedis(env.prefix);
  redis.disconnect();
});

test.serial('an idle queue gets no stalled-check write', async (t) => {
  await worker.waitUntilReady();
  await checkStalledJobs(worker, redis);
  t.is(await redis.exists(key('stalled-check')), 0);
});

test.serial('a job whose lock is gone is back in wait within two checks', async (t) => {
  await queue.add('sim', { action: 'bill', value: 100 } as never);
  const job = await worker.getNextJob('token-1');
  t.truthy(job);
  // The worker that held it died: its lock is gone and it is never renewed.
  await redis.del(`${key(job!.id!)}:lock`);

  await checkStalledJobs(worker, redis);
  t.is(await redis.exists(key('stalled-check')), 1, 'an active job is checked');
  t.deepEqual(await redis.smembers(key('stalled')), [job!.id]);
  t.is(await queue.getJobState(job!.id!), 'active');

  // The throttle key lives one interval; the next check on the grid comes after it expired.
  await redis.del(key('stalled-check'));
  await checkStalledJobs(worker, redis);
  t.is(await queue.getJobState(job!.id!), 'waiting');
});
