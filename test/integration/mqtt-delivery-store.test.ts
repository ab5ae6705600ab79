/**
 * The delivery state's transitions (docs/protocol.md#4-ack-and-retransmission) against the real Redis,
 * driven with explicit times: schedule, link drop and resume, overflow,
 * supersession, settlement, give-up, and hand-off idempotency.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { redisKeys } from '../../shared/keys.js';
import { workerConnection } from '../../shared/redis.js';
import { DeliveryStore, type AddInput, type SettleResult } from '../../workers/mqtt/delivery-store.js';
import { cleanupRedis, REDIS_URL } from '../helpers/env.js';

const redis = workerConnection(REDIS_URL, 'test-delivery-store');
const prefixes: string[] = [];
test.after.always(async () => {
  for (const p of prefixes) await cleanupRedis(p);
  await redis.quit();
});

function storeFor(limit = 100, gaps = [10_000, 30_000, 60_000, 60_000]) {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  const keys = redisKeys(prefix, 'DEV');
  const store = new DeliveryStore(redis, keys, gaps, limit);
  return {
    keys,
    store,
    /** One ACK settled on its own. */
    settle: async (id: string): Promise<SettleResult | null> => (await store.settleMany([id]))[0]!,
    /** When the next in-flight message is due, from the schedule's sorted set. */
    nextDueAt: async () => {
      const r = await redis.zrange(keys.outDue, '0', '0', 'WITHSCORES');
      return r[1] === undefined ? null : Number(r[1]);
    },
  };
}

const msg = (over: Partial<AddInput> = {}): AddInput => {
  const id = over.id ?? randomUUID();
  return { id, topic: 'coinerex/transaction/DEV', payload: JSON.stringify({ message_id: id, message_type: 'transaction' }), type: 'transaction', supersedable: false, now: 0, sent: true, ...over };
};

test('connected: sent at once, resent after 10, 30, 60 s gaps, given up after the final 60 s with 4 sends', async (t) => {
  const { keys, store, nextDueAt } = storeFor();
  const m = msg({ now: 1_000 });
  t.deepEqual(await store.add(m), { kind: 'sent', settled: [] });
  t.is(await nextDueAt(), 11_000);
  t.deepEqual((await store.due(10_999, 50)).resent, [], 'nothing before it is due');
  const sends = [1_000];
  for (const at of [11_000, 41_000, 101_000]) {
    const r = await store.due(at, 50);
    t.deepEqual(r.resent.map((x) => [x.id, x.payload]), [[m.id, m.payload]]);
    sends.push(at);
  }
  t.deepEqual(sends, [1_000, 11_000, 41_000, 101_000]);
  t.is(await nextDueAt(), 161_000);
  const last = await store.due(161_000, 50);
  t.deepEqual(last.gaveUp, [{ id: m.id, type: 'transaction', attempts: 4 }]);
  t.is(last.nextDueAt, null);
  t.like(JSON.parse((await redis.hget(keys.outFailed, m.id))!), { attempts: 4, payload: m.payload, topic: m.topic });
  t.like(await readDeliveryStats(redis, keys), { pending: 0, failed: 1, giveups: 1, retransmits: 3 });
  t.like(await store.add(m), { kind: 'duplicate' }, 'a re-run outbox job does not revive a failed message');
});

test('a dropped link returns in-flight messages to the buffer with their attempts; on reconnect each is sent again and its paused wait resumes', async (t) => {
  const { keys, store } = storeFor();
  const a = msg();
  const b = msg();
  await store.add({ ...a, now: 0 });
  await store.add({ ...b, now: 5_000 });
  await store.due(10_000, 50); // a: second send, next due 40 000
  const s = await store.suspend(12_000);
  t.like(s, { suspended: 2, buffered: 2, dropped: [] });
  t.like(await readDeliveryStats(redis, keys), { pending: 0, buffered: 2 });
  // While offline nothing is due.
  t.deepEqual((await store.due(1_000_000, 50)).resent, []);
  // Reconnect 100 s later: production order, same payload, remaining waits (a: 28 s, b: 3 s) from now.
  const r = await store.take(112_000, 50);
  t.deepEqual(r.items.map((i) => [i.id, i.firstSend, i.dueAt]), [[a.id, false, 140_000], [b.id, false, 115_000]]);
  t.is(r.buffered, 0);
  // b had been sent once: the send it gets when its wait ends is its second.
  const due = await store.due(115_000, 50);
  t.deepEqual(due.resent.map((x) => [x.id, x.attempts]), [[b.id, 2]]);
  const dueA = await store.due(140_000, 50);
  t.deepEqual(dueA.resent.map((x) => [x.id, x.attempts]), [[a.id, 3]], 'a kept its attempt count');
});

test('offline: production order, overflow drops the oldest and counts it, newer accounting supersedes an unsent one but never a daily close', async (t) => {
  const { keys, store } = storeFor(3);
  const acc = (daily: boolean) => msg({ type: 'accounting', supersedable: !daily, sent: false });
  const daily = acc(true);
  const acc1 = acc(false);
  const t1 = msg({ sent: false });
  t.like(await store.add(daily), { kind: 'buffered', buffered: 1 });
  t.like(await store.add(acc1), { kind: 'buffered', buffered: 2 });
  t.like(await store.add(t1), { kind: 'buffered', buffered: 3 });
  const acc2 = acc(false);
  t.like(await store.add(acc2), { kind: 'buffered', buffered: 3, superseded: [acc1.id], dropped: [] });
  const t2 = msg({ sent: false });
  const r = await store.add(t2);
  t.like(r, { kind: 'buffered', buffered: 3, superseded: [], dropped: [{ id: daily.id, type: 'accounting' }] });
  t.like(await readDeliveryStats(redis, keys), { buffered: 3, dropped: 1, superseded: 1 });
  // Connected again but the buffer is not empty: the app buffers a new message behind the older ones.
  const t3 = msg({ sent: false });
  t.like(await store.add(t3), { kind: 'buffered', dropped: [{ id: t1.id }] });
  const taken = await store.take(0, 10);
  t.deepEqual(taken.items.map((i) => i.id), [acc2.id, t2.id, t3.id]);
  t.true(taken.items.every((i) => i.firstSend));
});

test('ACKs settle wherever the message is; unknown and repeated ids are ignored; a settled id is never handed over again', async (t) => {
  const { keys, store, settle, nextDueAt } = storeFor();
  const inFlight = msg({ now: 1_000 });
  const buffered = msg({ sent: false });
  await store.add(inFlight);
  await store.add(buffered);
  t.like(await settle(inFlight.id), { sentAt: 1_000, attempts: 1, type: 'transaction' });
  t.like(await settle(buffered.id), { sentAt: null, attempts: 0 });
  t.is(await settle(inFlight.id), null);
  t.is(await settle('unknown'), null);
  t.like(await store.add(inFlight), { kind: 'duplicate' });
  t.like(await readDeliveryStats(redis, keys), { pending: 0, buffered: 0, acked: 2 });
  t.is(await nextDueAt(), null);
});

test('a replay (transactions query) sends a settled or given-up message again, never one still pending', async (t) => {
  const { keys, store, settle } = storeFor(100, [1_000]);
  const settled = msg({ now: 0 });
  const failed = msg({ now: 0 });
  const pending = msg({ now: 0 });
  await store.add(settled);
  await store.add(failed);
  await settle(settled.id);
  t.deepEqual((await store.due(1_000, 50)).gaveUp.map((g) => g.id), [failed.id]);
  t.like(await store.add({ ...settled, now: 2_000 }), { kind: 'duplicate' }, 'a plain re-run is still a duplicate');
  await store.add({ ...pending, now: 2_000 });
  t.like(await store.add({ ...settled, now: 3_000, replay: true }), { kind: 'sent' });
  t.like(await store.add({ ...failed, now: 3_000, replay: true }), { kind: 'sent' });
  t.like(await store.add({ ...pending, now: 3_000, replay: true }), { kind: 'duplicate' }, 'pending: its schedule already delivers it');
  t.is(await redis.hexists(keys.outFailed, failed.id), 0, 're-driven: no longer listed as failed');
});

test('ACKs settle in one call, alone or riding along with the next message; a repeat or unknown id in the batch settles nothing', async (t) => {
  const { keys, store, nextDueAt } = storeFor();
  const a = msg({ now: 1_000 });
  const b = msg({ now: 2_000 });
  const buffered = msg({ sent: false });
  await store.add(a);
  await store.add(b);
  await store.add(buffered);
  t.deepEqual(await store.settleMany([a.id, 'unknown', a.id]), [{ sentAt: 1_000, attempts: 1, type: 'transaction' }, null, null]);
  const c = msg({ now: 3_000 });
  const r = await store.add({ ...c, settle: [b.id, buffered.id, 'unknown'] });
  t.deepEqual(r, { kind: 'sent', settled: [{ sentAt: 2_000, attempts: 1, type: 'transaction' }, { sentAt: null, attempts: 0, type: 'transaction' }, null] });
  t.like(await readDeliveryStats(redis, keys), { pending: 1, buffered: 0, acked: 3 });
  t.is(await nextDueAt(), 13_000, 'only the new message is in flight');
  t.like(await store.add({ ...msg({ sent: false }), settle: [c.id] }), { kind: 'buffered', buffered: 1, settled: [{ sentAt: 3_000 }] });
  t.like(await store.add({ ...a, settle: [c.id] }), { kind: 'duplicate', settled: [null] }, 'a settled id is neither revived nor settled twice');
  t.like(await readDeliveryStats(redis, keys), { pending: 0, buffered: 1, acked: 4 });
});

test('a take reports the next in-flight due time, so a reconnect needs no separate read', async (t) => {
  const { store } = storeFor();
  await store.add(msg({ now: 5_000 }));
  const buffered = msg({ sent: false });
  await store.add(buffered);
  const r = await store.take(7_000, 10);
  t.deepEqual(r.items.map((i) => [i.id, i.dueAt]), [[buffered.id, 17_000]]);
  t.like(r, { buffered: 0, nextDueAt: 15_000 });
  await store.due(15_000, 10);
  await store.due(17_000, 10);
  t.like(await store.take(17_000, 10), { items: [], nextDueAt: 45_000 });
});
