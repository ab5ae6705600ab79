/**
 * A finished `hw-commands` job is kept for the queue's hour, however many
 * commands finish after it: the business app reads a payout command missing
 * from the queue within that hour as one that was never added
 * (workers/business/hardware-link.ts). Other queues keep their last 200.
 * Every queue's `events` stream, which nothing reads, keeps its last
 * QUEUE_EVENTS_MAX_LEN entries (up to twice that: Redis trims whole nodes).
 */
import test from 'ava';
import { Worker } from 'bullmq';
import { makeQueue, QUEUE_EVENTS_MAX_LEN, queueNames, workerConnection, type QueueName } from '../../queue/index.js';
import { cleanupRedis, REDIS_URL, testEnv } from '../helpers/env.js';

const env = testEnv();
const redis = workerConnection(REDIS_URL, `${env.deviceId}:retention-test`);

test.after.always(async () => {
  await cleanupRedis(env.prefix);
  redis.disconnect();
});

/** Adds one job, then 250 more, finishes them all in order; the first job's state and the events stream's length at the end. */
async function firstAfter250(name: QueueName): Promise<{ state: string; events: number }> {
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
    return { state: await queue.getJobState(first.id!), events: await redis.xlen(queue.keys.events!) };
  } finally {
    await worker.close(true);
    await queue.close();
  }
}

test.serial('hw-commands keeps a finished command after 250 more finished', async (t) => {
  const { state, events } = await firstAfter250(queueNames.hwCommands);
  t.is(state, 'completed');
  t.true(events <= 2 * QUEUE_EVENTS_MAX_LEN, `${events} entries in the events stream`);
});

test.serial('another queue keeps only its last 200', async (t) => {
  const { state, events } = await firstAfter250(queueNames.control);
  t.is(state, 'unknown');
  t.true(events <= 2 * QUEUE_EVENTS_MAX_LEN, `${events} entries in the events stream`);
});
