import test from 'ava';
import { Redis } from 'ioredis';
import { nextTransactionId, transactionIdPattern } from '../../shared/ids.js';
import { fixedClock } from '../../shared/clock.js';
import { testEnv, cleanupRedis, REDIS_URL } from '../helpers/env.js';

const env = testEnv();
const connect = () => new Redis(REDIS_URL, { protocol: 2 });
test.after.always(() => cleanupRedis(env.prefix));

// 2025-09-12 10:30:00 Taipei
const at = Date.UTC(2025, 8, 12, 2, 30, 0);

test.serial('format, separate TXN and REMOTE counters', async (t) => {
  const redis = connect();
  const clock = fixedClock(at);
  const a = await nextTransactionId(redis, env.keys, 'TXN', clock, 'Asia/Taipei');
  const b = await nextTransactionId(redis, env.keys, 'TXN', clock, 'Asia/Taipei');
  const r = await nextTransactionId(redis, env.keys, 'REMOTE', clock, 'Asia/Taipei');
  t.is(a, 'TXN_20250912_103000_001');
  t.is(b, 'TXN_20250912_103000_002');
  t.is(r, 'REMOTE_20250912_103000_001');
  t.regex(a, transactionIdPattern);
  redis.disconnect();
});

test.serial('a restart never reuses a number', async (t) => {
  const first = connect();
  const clock = fixedClock(at + 1000);
  const before = await nextTransactionId(first, env.keys, 'TXN', clock, 'Asia/Taipei');
  first.disconnect();
  const second = connect();
  const after = await nextTransactionId(second, env.keys, 'TXN', clock, 'Asia/Taipei');
  t.is(before, 'TXN_20250912_103001_003');
  t.is(after, 'TXN_20250912_103001_004');
  second.disconnect();
});

test.serial('reset at 00:00 Asia/Taipei', async (t) => {
  const redis = connect();
  const clock = fixedClock(Date.UTC(2025, 8, 12, 15, 59, 59)); // 23:59:59 Taipei
  const late = await nextTransactionId(redis, env.keys, 'TXN', clock, 'Asia/Taipei');
  clock.advance(1000); // 00:00:00 Taipei, next day
  const early = await nextTransactionId(redis, env.keys, 'TXN', clock, 'Asia/Taipei');
  t.is(late, 'TXN_20250912_235959_005');
  t.is(early, 'TXN_20250913_000000_001');
  redis.disconnect();
});

test.serial('four digits after 999 and atomic under concurrency', async (t) => {
  const redis = connect();
  const clock = fixedClock(Date.UTC(2025, 8, 20, 2, 0, 0));
  const ids = await Promise.all(Array.from({ length: 1000 }, () => nextTransactionId(redis, env.keys, 'REMOTE', clock, 'Asia/Taipei')));
  t.is(new Set(ids).size, 1000, 'no number handed out twice');
  t.true(ids.includes('REMOTE_20250920_100000_999'));
  t.is(await nextTransactionId(redis, env.keys, 'REMOTE', clock, 'Asia/Taipei'), 'REMOTE_20250920_100000_1001');
  redis.disconnect();
});
