/**
 * A finished `hw-commands` job is kept for the queue's hour, however many
 * commands finish after it: the business app reads a payout command missing
 * from the queue within that hour as one that was never added
 * (workers/business/hardware-link.ts). Other queues keep their last 200.
 */
import test from 'ava';
import { Worker } from 'bullmq';
import { makeQueue, queueNames, workerConnection, type QueueName } from '../../queue/index.js';
import { cleanupRedis, REDIS_URL, testEnv } from '../helpers/env.js';

const env = testEnv();
const redis = workerConnection(REDIS_URL, `${env.deviceId}:retention-test`);

test.after.always(async () => {
  await cleanupRedis(env.prefix);
  redis.disconnect();
});

/** Adds one job, then 250 more, finishes them all in order; the first job's state at the end. */
async function firstAfter250(name: QueueName): Promise<string> {
  const queue = makeQueue(name, redis, env.keys.bullPrefix);
  // Not started: jobs are taken and finished by hand, one at a time, oldest first.
  const worker = new Worker(name, null, { connection: redis, prefix: env.keys.bullPrefix, autorun: false, skipStalledCheck: true });
  try {
    const first = await queue.add('first', {} as never);
    for (let i = 0; i < 250; i++) await queue.add('later', {} as never);
    for (let i = 0; i < 251; i++) {
      const job = (await worker.getNextJob(`token-${i}`))!;
      await job.moveToCompleted('done', `token-${i}`, false);
    }
    return await queue.getJobState(first.id!);
  } finally {
    await worker.close(true);
    await queue.close();
  }
}

test.serial('hw-commands keeps a finished command after 250 more finished', async (t) => {
  t.is(await firstAfter250(queueNames.hwCommands), 'completed');
});

test.serial('another queue keeps only its last 200', async (t) => {
  t.is(await firstAfter250(queueNames.control), 'unknown');
});
