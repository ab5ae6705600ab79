/**
 * redisMetrics buffers in memory and writes the hash in one MULTI per flush:
 * exact counter, histogram and gauge values after a flush, nothing before it,
 * increments (not overwrites) across flushes, the timer flush, and close();
 * a gauge set to the value already written is no write (an idle app's fsyncs),
 * and with nothing buffered no timer wakes the app (its idle CPU).
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { metricField, redisMetrics } from '../../shared/metrics.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';

const env = testEnv();
const redis = new Redis(REDIS_URL, { lazyConnect: true });

test.before(async () => {
  await redis.connect();
});

test.after.always(async () => {
  await cleanupRedis(env.prefix);
  redis.disconnect();
});

const hash = () => redis.hgetall(env.keys.metrics);

test.serial('many observations, one flush: exact values, none written before', async (t) => {
  await redis.del(env.keys.metrics);
  const m = redisMetrics(redis, env.keys, 60_000);
  m.incr('messages_published_total', { type: 'transaction' });
  m.incr('messages_published_total', { type: 'transaction' }, 4);
  m.incr('messages_published_total', { type: 'heartbeat' });
  m.observe('ack_latency_ms', 7);
  m.observe('ack_latency_ms', 300.5);
  m.observe('ack_latency_ms', 200_000, { kind: 'x' });
  m.set('offline_buffer_size', 4);
  m.set('offline_buffer_size', 9);
  t.deepEqual(await hash(), {}, 'buffered, not written per observation');

  await m.flush();
  const h = await hash();
  t.is(h[metricField('messages_published_total', { type: 'transaction' })], '5');
  t.is(h[metricField('messages_published_total', { type: 'heartbeat' })], '1');
  t.is(h[metricField('ack_latency_ms_bucket', { le: 5 })], undefined, 'an empty bucket is not written');
  t.is(h[metricField('ack_latency_ms_bucket', { le: 10 })], '1');
  t.is(h[metricField('ack_latency_ms_bucket', { le: 250 })], '1');
  t.is(h[metricField('ack_latency_ms_bucket', { le: 500 })], '2');
  t.is(h[metricField('ack_latency_ms_bucket', { le: 120_000 })], '2');
  t.is(h[metricField('ack_latency_ms_bucket', { le: '+Inf' })], '2');
  t.is(h[metricField('ack_latency_ms_sum')], '307.5');
  t.is(h[metricField('ack_latency_ms_count')], '2');
  t.is(h[metricField('ack_latency_ms_bucket', { kind: 'x', le: 120_000 })], undefined);
  t.is(h[metricField('ack_latency_ms_bucket', { kind: 'x', le: '+Inf' })], '1');
  t.is(h[metricField('ack_latency_ms_sum', { kind: 'x' })], '200000');
  t.is(h[metricField('offline_buffer_size')], '9', 'gauge: last value wins');

  // A second flush adds to what is there (other processes write the same hash).
  await redis.hincrby(env.keys.metrics, metricField('messages_published_total', { type: 'heartbeat' }), 10);
  m.incr('messages_published_total', { type: 'heartbeat' });
  m.observe('ack_latency_ms', 0.25);
  m.set('offline_buffer_size', 0);
  await m.flush();
  const later = await hash();
  t.is(later[metricField('messages_published_total', { type: 'heartbeat' })], '12');
  t.is(later[metricField('messages_published_total', { type: 'transaction' })], '5', 'nothing written twice');
  t.is(later[metricField('ack_latency_ms_sum')], '307.75');
  t.is(later[metricField('ack_latency_ms_count')], '3');
  t.is(later[metricField('offline_buffer_size')], '0');
  await m.close();
});

test.serial('a gauge set again to its written value writes nothing', async (t) => {
  await redis.del(env.keys.metrics);
  const m = redisMetrics(redis, env.keys, 60_000);
  const field = metricField('offline_buffer_size');
  m.set('offline_buffer_size', 3);
  await m.flush();
  // A marker no write of this process would put there: it stays as long as nothing is written.
  await redis.hset(env.keys.metrics, field, 'untouched');
  m.set('offline_buffer_size', 3);
  await m.flush();
  t.is((await hash())[field], 'untouched', 'same value: no write');

  m.set('offline_buffer_size', 5);
  m.set('offline_buffer_size', 3);
  await m.flush();
  t.is((await hash())[field], 'untouched', 'changed and back before a flush: nothing to write');

  m.set('offline_buffer_size', 5);
  await m.flush();
  m.set('offline_buffer_size', 3);
  await m.flush();
  t.is((await hash())[field], '3', 'back to an older value after a write: written');
  await m.close();
});

test.serial('the timer flushes on its own', async (t) => {
  await redis.del(env.keys.metrics);
  const m = redisMetrics(redis, env.keys, 50);
  m.incr('commands_total', { outcome: 'success' }, 3);
  const v = await waitFor(async () => (await hash())[metricField('commands_total', { outcome: 'success' })], 3000, 'timer flush');
  t.is(v, '3');
  await m.close();
});

test.serial('the flush timer is armed only while something waits to be written', async (t) => {
  await redis.del(env.keys.metrics);
  // Counts the timers asked for with this test's unusual period, whichever API asks.
  const FLUSH_MS = 37;
  let armed = 0;
  const { setTimeout: realTimeout, setInterval: realInterval } = globalThis;
  const counting = <F extends (...a: never[]) => unknown>(real: F) =>
    ((fn: () => void, ms?: number, ...rest: unknown[]) => {
      if (ms === FLUSH_MS) armed++;
      return (real as unknown as (...a: unknown[]) => unknown)(fn, ms, ...rest);
    }) as unknown as F;
  globalThis.setTimeout = counting(realTimeout);
  globalThis.setInterval = counting(realInterval);
  try {
    const m = redisMetrics(redis, env.keys, FLUSH_MS);
    await new Promise((r) => realTimeout(r, FLUSH_MS * 4));
    t.is(armed, 0, 'nothing buffered: no wake-up');
    m.incr('commands_total', { outcome: 'success' });
    m.incr('commands_total', { outcome: 'success' });
    m.set('offline_buffer_size', 2);
    t.is(armed, 1, 'one timer for everything buffered before the flush');
    await waitFor(async () => (await hash())[metricField('commands_total', { outcome: 'success' })], 3000, 'timer flush');
    await new Promise((r) => realTimeout(r, FLUSH_MS * 4));
    t.is(armed, 1, 'written: no wake-up until the next observation');
    m.set('offline_buffer_size', 2);
    t.is(armed, 1, 'a gauge at its written value arms nothing');
    await m.close();
  } finally {
    globalThis.setTimeout = realTimeout;
    globalThis.setInterval = realInterval;
  }
});

test.serial('close() writes what is still buffered', async (t) => {
  await redis.del(env.keys.metrics);
  const m = redisMetrics(redis, env.keys, 60_000);
  m.incr('app_restarts_total', { app: 'mqtt', reason: 'watchdog' });
  m.observe('business_event_ms', 12, { kind: 'coin_accepted' });
  await m.close();
  const h = await hash();
  t.is(h[metricField('app_restarts_total', { app: 'mqtt', reason: 'watchdog' })], '1');
  t.is(h[metricField('business_event_ms_count', { kind: 'coin_accepted' })], '1');
});
