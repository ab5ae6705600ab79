/**
 * Redis memory stays bounded and a full Redis never leaves the acceptors on
 * (issue 10): the journal is trimmed to its retention in one call however
 * much is due; given-up messages are capped and what is dropped is counted;
 * at the alarm level (a private Redis with a small maxmemory) error 1 is
 * raised, the acceptors go off at the hardware and /health fails, and come
 * back once memory is freed; a hardware event Redis refuses for memory
 * switches the acceptors off at the hardware at once.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { JOURNAL_KEEP_MS, trimJournal } from '../../shared/journal.js';
import { redisKeys } from '../../shared/keys.js';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { isOomError } from '../../shared/redis-memory.js';
import { makeQueue, queueNames, workerConnection, producerConnection, type HwCommand, type HwEvent } from '../../queue/index.js';
import { checkHealth } from '../../dashboard/health.js';
import { DeliveryStore } from '../../workers/mqtt/delivery-store.js';
import { startHardwareService } from '../../workers/hardware/service.js';
import type { EventSink, HardwareDriver } from '../../workers/hardware/driver.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';
import { privateRedis, type PrivateRedis } from '../helpers/private-services.js';
import { startBusinessRig, dataOf } from '../helpers/business-rig.js';

const dir = mkdtempSync(join(tmpdir(), 'coinerex-memory-'));
let small: PrivateRedis;
let admin: Redis;

test.before(async () => {
  small = await privateRedis(dir, { maxmemory: '24mb' });
  await small.start();
  admin = new Redis(small.url, { protocol: 2, maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
});

test.after.always(async () => {
  admin?.disconnect();
  await small?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Fills the private Redis with values under `ballast:` until used_memory
 * reaches `percent` of maxmemory or Redis refuses a write. Near the limit the
 * values are small: a refused big value frees its own query buffer and
 * leaves room for the next small write.
 */
async function fill(percent: number): Promise<void> {
  for (;;) {
    const info = await admin.info('memory');
    const used = Number(/^used_memory:(\d+)/m.exec(info)![1]);
    const max = Number(/^maxmemory:(\d+)/m.exec(info)![1]);
    if (used * 100 >= max * percent) return;
    const room = max - used;
    try {
      await admin.set(`ballast:${randomUUID()}`, 'x'.repeat(room > 1024 * 1024 ? 256 * 1024 : 512));
    } catch (err) {
      if (isOomError(err)) return;
      throw err;
    }
  }
}

async function emptyBallast(): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', 'ballast:*', 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) await admin.unlink(...found);
  } while (cursor !== '0');
}

test('the journal is trimmed to its retention in one call, however many entries are due', async (t) => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const keys = redisKeys(prefix, 'DEV');
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  t.teardown(async () => {
    await cleanupRedis(prefix);
    redis.disconnect();
  });
  const now = Date.now();
  const old = now - JOURNAL_KEEP_MS - 60_000;
  const pipe = redis.pipeline();
  for (let i = 0; i < 1_234; i++) pipe.zadd(keys.journal, old - i, `OLD_${i}`).hset(keys.journalEntry(`OLD_${i}`), 'envelope', '{}', 'at', old - i);
  for (let i = 0; i < 5; i++) pipe.zadd(keys.journal, now - i, `NEW_${i}`).hset(keys.journalEntry(`NEW_${i}`), 'envelope', '{}', 'at', now - i);
  await pipe.exec();
  t.is(await trimJournal(redis, keys, now, 100), 1_234);
  t.is(await redis.zcard(keys.journal), 5);
  t.is(await redis.exists(keys.journalEntry('OLD_0'), keys.journalEntry('OLD_1233')), 0);
  t.is(await redis.exists(keys.journalEntry('NEW_4')), 1);
});

test('given-up messages are capped at the limit, oldest dropped first and counted', async (t) => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const keys = redisKeys(prefix, 'DEV');
  const redis = workerConnection(REDIS_URL, 'test-out-failed');
  t.teardown(async () => {
    await cleanupRedis(prefix);
    await redis.quit();
  });
  const store = new DeliveryStore(redis, keys, [1_000], 100, 10);
  const ids: string[] = [];
  for (let i = 0; i < 25; i++) {
    const id = `M${String(i).padStart(2, '0')}`;
    ids.push(id);
    await store.add({ id, topic: 't', payload: '{}', type: 'transaction', supersedable: false, now: i, sent: true });
    await store.due(i + 1_000, 50);
  }
  t.is(await redis.hlen(keys.outFailed), 10);
  t.deepEqual((await redis.hkeys(keys.outFailed)).sort(), ids.slice(15));
  t.is(Number(await redis.hget(keys.outStats, 'failed_dropped')), 15);
  t.is((await readDeliveryStats(redis, keys)).failed, 10);
});

test.serial('at the memory alarm level: error 1, acceptors off at the hardware, /health fails; freed memory clears it', async (t) => {
  t.timeout(90_000);
  const rig = await startBusinessRig({ env: { COINEREX_REDIS_URL: small.url, COINEREX_REDIS_MEMORY_CHECK_SECONDS: '1', COINEREX_REDIS_MEMORY_ALARM_PERCENT: '80' } });
  t.teardown(async () => {
    await rig.close().catch(() => undefined);
    await emptyBallast();
  });
  await rig.settle();
  t.true((await rig.truth()).acceptorsEnabled);
  const health = () => checkHealth({ redis: rig.redis, keys: rig.t.keys, apps: [], watchdogMs: 10_000, now: Date.now, memoryAlarmPercent: 80 });
  t.false((await health()).reasons.some((r) => r.includes('memory')));

  await fill(85);
  const [raised] = await rig.waitMessages((m) => m.message_type === 'error' && dataOf(m).error_code === 1 && dataOf(m).state === 'raised', 1, 15_000);
  t.like(dataOf(raised!).context, { alarm_percent: 80 });
  await waitFor(async () => !(await rig.truth()).acceptorsEnabled, 10_000, 'acceptors off at the hardware');
  t.is(await rig.act({ action: 'bill', amount: 100 }), 'refused');
  const h = await health();
  t.is(h.status, 'fail');
  t.true(h.reasons.some((r) => /redis memory at .* % of maxmemory/.test(r)), h.reasons.join('; '));

  await emptyBallast();
  await rig.waitMessages((m) => m.message_type === 'error' && dataOf(m).error_code === 1 && dataOf(m).state === 'cleared', 1, 15_000);
  await waitFor(async () => (await rig.truth()).acceptorsEnabled, 10_000, 'acceptors on again');
  t.false((await health()).reasons.some((r) => r.includes('memory')));
});

test.serial('a hardware event Redis refuses for memory switches the acceptors off at the hardware; the event is kept and the off state reported later', async (t) => {
  t.timeout(60_000);
  const env = testEnv({ COINEREX_REDIS_URL: small.url });
  const executed: HwCommand[] = [];
  let sink: EventSink | null = null;
  const driver: HardwareDriver = {
    start: async () => undefined,
    execute: async (cmd) => void executed.push(cmd),
    onEvent: (fn) => void (sink = fn),
    close: async () => undefined,
  };
  const producer = producerConnection(small.url, 'test-oom');
  const consumer = workerConnection(small.url, 'test-oom-consumer');
  for (const c of [producer, consumer]) c.on('error', () => undefined);
  const hwEvents = makeQueue<HwEvent>(queueNames.hwEvents, producer, env.keys.bullPrefix);
  const service = await startHardwareService({ driver, hwEvents, connection: consumer, prefix: env.keys.bullPrefix, log: pino({ level: 'silent' }), customersPerMinute: 0 });
  t.teardown(async () => {
    await service.close();
    await emptyBallast();
    for (const c of [producer, consumer]) c.disconnect();
  });
  // Past maxmemory: filled until Redis refuses a write.
  await fill(Infinity);
  const bill: HwEvent = { kind: 'bill_accepted', amount: 500, eventId: 'board-b-1', at: Date.now() };
  const refused = await Promise.resolve(sink!(bill)).then(() => null, (err: unknown) => err);
  t.true(isOomError(refused), String(refused));
  t.deepEqual(executed, [{ kind: 'set_acceptors', enabled: false }], 'acceptors off at once, without Redis');

  await emptyBallast();
  // The driver delivers the same event again (it was never ACKed); now it is queued, followed by the off state.
  await sink!(bill);
  const jobs = await hwEvents.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
  t.deepEqual(jobs.map((j) => j.data.kind).sort(), ['acceptors_set', 'bill_accepted']);
  t.like(jobs.find((j) => j.data.kind === 'acceptors_set')!.data, { enabled: false });
});
