/**
 * The simulator's physical truth is durable: a restart of the driver keeps
 * the machine as it was, an event recorded but not handed over is delivered
 * after the restart, and a re-sent commit never applies twice.
 */
import test from 'ava';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import type { HwEvent } from '../../queue/jobs.js';
import { workerConnection } from '../../shared/redis.js';
import { readPhysicalTruth, readPhysicalPayout } from '../../shared/physical-truth.js';
import { SimDriver, type SimOptions } from '../../workers/hardware/sim/sim-driver.js';
import { TruthStore } from '../../workers/hardware/sim/truth-store.js';
import { testEnv, cleanupRedis, waitFor, REDIS_URL, type TestEnv } from '../helpers/env.js';

const log = pino({ level: 'silent' });

interface Rig {
  env: TestEnv;
  redis: Redis;
  /** A driver on the rig's Redis, its events recorded; closed at teardown. */
  sim(opts?: Partial<SimOptions>, sink?: (e: HwEvent) => void | Promise<void>): Promise<{ sim: SimDriver; events: HwEvent[] }>;
}

function rig(t: import('ava').ExecutionContext): Rig {
  const env = testEnv();
  const redis = workerConnection(REDIS_URL);
  const sims: SimDriver[] = [];
  t.teardown(async () => {
    for (const s of sims) await s.close();
    await cleanupRedis(env.prefix);
    redis.disconnect();
  });
  return {
    env,
    redis,
    async sim(opts = {}, sink) {
      const events: HwEvent[] = [];
      const sim = new SimDriver(
        { redis, keys: env.keys, log },
        { initialInventory: 500, payoutMs: 1, pending: { retryMs: 20 }, ...opts },
      );
      sims.push(sim);
      sim.onEvent(sink ?? ((e) => void events.push(e)));
      await sim.start();
      return { sim, events };
    },
  };
}

test('the machine survives a restart of the driver; the first-start inventory is applied once', async (t) => {
  const r = rig(t);
  const first = await r.sim({ initialInventory: 500 });
  await first.sim.insertCash(100);
  await first.sim.insertCash(1000);
  await first.sim.insertCash(50);
  await first.sim.act({ action: 'door', open: true });
  await first.sim.act({ action: 'refill', coins: 40 });
  await first.sim.execute({ kind: 'payout', payoutId: 'P1', coins: 12 });
  await waitFor(() => first.events.find((e) => e.kind === 'payout_done'), 5_000, 'payout_done');
  await first.sim.execute({ kind: 'display', text: '歡迎光臨' });
  await first.sim.execute({ kind: 'set_acceptors', enabled: false });
  await first.sim.close();
  const before = await readPhysicalTruth(r.redis, r.env.keys);
  t.like(before, {
    inventory: 528,
    initialInventory: 500,
    refilled: 40,
    dispensed: 12,
    bills: { 100: 1, 500: 0, 1000: 1 },
    coins50: 1,
    billsNtd: 1100,
    coinsNtd: 50,
    doorOpen: true,
    acceptorsEnabled: false,
    display: '歡迎光臨',
  });

  const second = await r.sim({ initialInventory: 2000 });
  t.deepEqual(await readPhysicalTruth(r.redis, r.env.keys), before, 'nothing reset, simInventory not applied again');
  // The restarted driver tells where the hopper stands and still knows the payout.
  await waitFor(() => second.events.find((e) => e.kind === 'hopper_level'), 5_000, 'hopper_level');
  t.like(second.events.find((e) => e.kind === 'hopper_level'), { coins: 528, lowSensor: false });
  await second.sim.execute({ kind: 'payout', payoutId: 'P1', coins: 12 });
  const again = await waitFor(() => second.events.find((e) => e.kind === 'payout_done'), 5_000, 'payout re-reported');
  t.like(again, { payoutId: 'P1', paid: 12, unpaid: 0, reason: 'complete' });
  t.is((await readPhysicalTruth(r.redis, r.env.keys)).dispensed, 12, 'not paid again after the restart');
});

test('an event recorded but not handed over is delivered after a restart, with the same id', async (t) => {
  const r = rig(t);
  // The enqueue fails (Redis for BullMQ down, or the process dies right after the truth update).
  const crashed = await r.sim({}, () => {
    throw new Error('enqueue failed');
  });
  t.is(await crashed.sim.insertCash(500), 'accepted');
  t.is((await readPhysicalTruth(r.redis, r.env.keys)).bills[500], 1, 'the bill is in the cash box');
  const pending = (await r.redis.lrange(r.env.keys.hwPending, 0, -1)).map((s) => JSON.parse(s) as HwEvent);
  const bill = pending.find((e) => e.kind === 'bill_accepted');
  t.like(bill, { amount: 500 });
  await crashed.sim.close();

  const restarted = await r.sim();
  const delivered = await waitFor(() => restarted.events.find((e) => e.kind === 'bill_accepted'), 5_000, 'the bill event');
  t.deepEqual(delivered, bill);
  await waitFor(async () => (await r.redis.llen(r.env.keys.hwPending)) === 0, 5_000, 'pending list drained');
  t.is(restarted.events.filter((e) => e.kind === 'bill_accepted').length, 1);
});

test('a failing sink is retried until it succeeds, in order', async (t) => {
  const r = rig(t);
  let failures = 3;
  const got: HwEvent[] = [];
  const { sim } = await r.sim({}, (e) => {
    if (failures > 0) {
      failures -= 1;
      throw new Error('queue unavailable');
    }
    got.push(e);
  });
  await sim.insertCash(100);
  await sim.insertCash(500);
  await waitFor(() => got.filter((e) => e.kind === 'bill_accepted').length === 2, 5_000, 'both bills');
  t.deepEqual(
    got.filter((e) => e.kind === 'bill_accepted').map((e) => ('amount' in e ? e.amount : 0)),
    [100, 500],
  );
});

test('a payout interrupted by a crash is stopped, not resumed, and reported as unknown with what it paid', async (t) => {
  const r = rig(t);
  const first = await r.sim({ payoutMs: 15 });
  await first.sim.execute({ kind: 'payout', payoutId: 'P-cut', coins: 200 });
  await first.sim.execute({ kind: 'payout', payoutId: 'P-queued', coins: 5 });
  await waitFor(async () => ((await readPhysicalPayout(r.redis, r.env.keys, 'P-cut'))?.paid ?? 0) >= 3, 5_000, 'a few coins paid');
  // The power goes: the hopper stops where it is.
  await first.sim.close();
  const cut = await readPhysicalPayout(r.redis, r.env.keys, 'P-cut');
  t.false(cut!.done);

  const second = await r.sim({ payoutMs: 1 });
  const done = await waitFor(() => second.events.find((e) => e.kind === 'payout_done' && e.payoutId === 'P-cut'), 5_000, 'payout_done');
  t.like(done, { requested: 200, paid: cut!.paid, unpaid: 200 - cut!.paid, reason: 'unknown', hopper: { coins: 500 - cut!.paid, lowSensor: false } });
  const queued = await waitFor(() => second.events.find((e) => e.kind === 'payout_done' && e.payoutId === 'P-queued'), 5_000, 'queued one');
  t.like(queued, { paid: 0, unpaid: 5, reason: 'unknown' });
  await second.sim.execute({ kind: 'report_status', requestId: 'R' });
  const report = await waitFor(() => second.events.find((e) => e.kind === 'status_report'), 5_000, 'status_report');
  t.like(report, { inventory: 500 - cut!.paid });
  t.deepEqual(
    report.kind === 'status_report' ? report.payouts.find((p) => p.payoutId === 'P-cut') : null,
    { payoutId: 'P-cut', requested: 200, paid: cut!.paid, done: true, reason: 'unknown' },
  );
  const truth = await readPhysicalTruth(r.redis, r.env.keys);
  t.is(truth.dispensed, cut!.paid, 'no coin left after the restart');
  t.is(truth.inventory, 500 - cut!.paid);
});

test('jam, faults, door, refill and the low-level sensor', async (t) => {
  const r = rig(t);
  const { sim, events } = await r.sim({ initialInventory: 35, lowLevel: 30, progressEvery: 2 });
  const after = (n: number) => events.slice(n);
  // Every recorded event handed to the sink (a commit can carry several).
  const drained = () => waitFor(async () => (await r.redis.llen(r.env.keys.hwPending)) === 0, 5_000, 'pending drained');

  await sim.act({ action: 'jam' });
  await sim.execute({ kind: 'payout', payoutId: 'P-jam', coins: 10 });
  await waitFor(() => events.find((e) => e.kind === 'payout_done'), 5_000, 'jammed payout');
  t.like(events.find((e) => e.kind === 'payout_done'), { paid: 3, unpaid: 7, reason: 'jam' });
  t.like(events.find((e) => e.kind === 'fault_raised'), { code: 41 });
  t.deepEqual((await readPhysicalTruth(r.redis, r.env.keys)).activeFaults, [41]);

  // While 41 is active the hopper pays nothing.
  let n = events.length;
  await sim.execute({ kind: 'payout', payoutId: 'P-fault', coins: 2 });
  t.like(await waitFor(() => after(n).find((e) => e.kind === 'payout_done'), 5_000, 'refused payout'), { paid: 0, reason: 'fault' });

  await drained();
  n = events.length;
  await sim.act({ action: 'clear', code: 41 });
  await sim.act({ action: 'fault', code: 21 });
  await sim.act({ action: 'door', open: true });
  await sim.act({ action: 'door', open: false });
  await sim.execute({ kind: 'payout', payoutId: 'P-low', coins: 4 });
  await waitFor(() => after(n).find((e) => e.kind === 'payout_done'), 5_000, 'payout');
  await sim.act({ action: 'refill', coins: 100 });
  await waitFor(() => after(n).filter((e) => e.kind === 'hopper_level').length >= 2, 5_000, 'levels');
  const seen = after(n).map((e) => {
    switch (e.kind) {
      case 'fault_raised':
      case 'fault_cleared':
        return `${e.kind} ${e.code}`;
      case 'door':
        return `door ${e.open ? 'open' : 'closed'}`;
      case 'hopper_level':
        return `level ${e.coins}${e.lowSensor ? ' low' : ''}`;
      case 'payout_progress':
        return `progress ${e.paid}`;
      case 'payout_done':
        return `done ${e.paid} ${e.reason}${e.hopper ? `, level ${e.hopper.coins}${e.hopper.lowSensor ? ' low' : ''}` : ''}`;
      default:
        return e.kind;
    }
  });
  // 32 coins left: the sensor trips when the inventory falls below 30.
  t.deepEqual(seen, [
    'fault_cleared 41',
    'fault_raised 21',
    'door open',
    'door closed',
    'progress 2',
    'level 29 low',
    'done 4 complete, level 28 low',
    'level 128',
  ]);
  t.like(await readPhysicalTruth(r.redis, r.env.keys), { inventory: 128, dispensed: 7, refilled: 100, activeFaults: [21], jamArmed: false, doorOpen: false });
});

test('a commit re-sent after a reconnect is recognised and not applied twice', async (t) => {
  const r = rig(t);
  const store = new TruthStore(r.redis, r.env.keys);
  const s = await store.read();
  const change = { truth: { bills100: s.truth.bills[100] + 1 } };
  t.is(await store.commit(s.version, 'op-1', change), 'applied');
  t.is(await store.commit(s.version, 'op-1', change), 'already');
  t.is(await store.commit(s.version, 'op-2', change), 'conflict');
  t.is((await readPhysicalTruth(r.redis, r.env.keys)).bills[100], 1);
});

test('a change by another writer is noticed: the remembered truth is checked by its version', async (t) => {
  const r = rig(t);
  const { sim, events } = await r.sim({ initialInventory: 100, payoutMs: 0 });
  await sim.execute({ kind: 'payout', payoutId: 'P-mine', coins: 2 });
  // Someone else commits a refill and a payout the driver has not seen.
  const other = new TruthStore(r.redis, r.env.keys);
  const s = await other.read(['P-theirs']);
  t.is(await other.commit(s.version, 'op-other', { truth: { inventory: s.truth.inventory + 50 } }), 'applied');
  const s2 = await other.read(['P-theirs']);
  const payout = { payoutId: 'P-theirs', fields: { requested: 3, paid: 3, done: 1, reason: 'complete', acceptedAt: 1, endedAt: 1 }, acceptedAt: 1, open: false };
  t.is(await other.commit(s2.version, 'op-other-2', { payout }), 'applied');

  await sim.execute({ kind: 'payout', payoutId: 'P-mine-2', coins: 4 });
  const done = await waitFor(() => events.find((e) => e.kind === 'payout_done' && e.payoutId === 'P-mine-2'), 5_000, 'payout_done');
  t.like(done, { paid: 4, hopper: { coins: 144 } }, 'computed from the refilled inventory');
  // A payout it never saw is known all the same: not paid, re-reported.
  await sim.execute({ kind: 'payout', payoutId: 'P-theirs', coins: 3 });
  await waitFor(() => events.find((e) => e.kind === 'payout_done' && e.payoutId === 'P-theirs'), 5_000, 're-report');
  t.like(await readPhysicalTruth(r.redis, r.env.keys), { inventory: 144, dispensed: 6 });
});

test('an event whose commit had no answer is still delivered, once, without a restart', async (t) => {
  const r = rig(t);
  const { sim, events } = await r.sim();
  // The commit reaches Redis but its answer is lost (a connection cut between the two).
  const store = (sim as unknown as { store: TruthStore }).store;
  const commit = store.commit.bind(store);
  store.commit = async (...args) => {
    await commit(...args);
    store.commit = commit;
    throw new Error('connection lost');
  };
  await t.throwsAsync(sim.insertCash(1000), { message: 'connection lost' });
  const bill = await waitFor(() => events.find((e) => e.kind === 'bill_accepted'), 5_000, 'the bill event');
  t.like(bill, { amount: 1000 });
  // The next step starts from Redis again, not from what the driver remembered.
  t.is(await sim.insertCash(1000), 'accepted');
  await waitFor(() => events.filter((e) => e.kind === 'bill_accepted').length >= 2, 5_000, 'the second bill');
  await waitFor(async () => (await r.redis.llen(r.env.keys.hwPending)) === 0, 5_000, 'pending list drained');
  t.is(events.filter((e) => e.kind === 'bill_accepted').length, 2);
  t.is((await readPhysicalTruth(r.redis, r.env.keys)).bills[1000], 2);
});

test('events that piled up while the sink was failing are handed over together, in order', async (t) => {
  const r = rig(t);
  let failing = true;
  const batches: HwEvent[][] = [];
  const sim = new SimDriver({ redis: r.redis, keys: r.env.keys, log }, { initialInventory: 500, payoutMs: 0, pending: { retryMs: 200 } });
  t.teardown(() => sim.close());
  sim.onEvents((evs) => {
    if (failing) throw new Error('queue unavailable');
    batches.push([...evs]);
  });
  await sim.start();
  for (const amount of [100, 500, 1000, 50] as const) await sim.insertCash(amount);
  failing = false;
  await waitFor(async () => (await r.redis.llen(r.env.keys.hwPending)) === 0, 5_000, 'pending list drained');
  const cash = batches.flat().filter((e) => e.kind === 'bill_accepted' || e.kind === 'coin_accepted');
  t.deepEqual(cash.map((e) => ('amount' in e ? e.amount : 0)), [100, 500, 1000, 50]);
  t.true(batches.some((b) => b.length > 1), 'one hand-over for several events');
});

test('a power cut during a payout: the coins left (or not), the board forgets the payout and its count until a refill', async (t) => {
  const r = rig(t);
  const { sim, events } = await r.sim({ initialInventory: 100 });
  const report = async (requestId: string) => {
    await sim.execute({ kind: 'report_status', requestId });
    return waitFor(() => events.find((e) => e.kind === 'status_report' && e.requestId === requestId), 5_000, requestId) as Promise<Extract<HwEvent, { kind: 'status_report' }>>;
  };

  await sim.act({ action: 'power_cut', paid: true });
  await sim.execute({ kind: 'payout', payoutId: 'P-cut', coins: 10 });
  // A repeat of the command (a redelivered job) pays nothing again.
  await sim.execute({ kind: 'payout', payoutId: 'P-cut', coins: 10 });
  t.like(await readPhysicalTruth(r.redis, r.env.keys), { inventory: 90, dispensed: 10, countLost: true, powerCut: null });
  t.like(await readPhysicalPayout(r.redis, r.env.keys, 'P-cut'), { paid: 10, done: true, reason: 'unknown', lost: true });
  const lost = await report('R1');
  t.is(lost.inventory, null);
  t.false(lost.payouts.some((p) => p.payoutId === 'P-cut'), 'the lost payout is not reported');
  t.false(events.some((e) => e.kind === 'payout_done' || e.kind === 'payout_progress'), 'nothing said about the payout');

  // A restart does not bring the count back: no level is reported.
  await sim.close();
  const again = await r.sim({ initialInventory: 100 });
  t.false(again.events.some((e) => e.kind === 'hopper_level'));
  await again.sim.act({ action: 'refill', coins: 10 });
  await again.sim.execute({ kind: 'report_status', requestId: 'R2' });
  t.like(await waitFor(() => again.events.find((e) => e.kind === 'status_report'), 5_000, 'R2'), { inventory: 100 });

  // Cut before any coin: nothing leaves.
  await again.sim.act({ action: 'power_cut', paid: false });
  await again.sim.execute({ kind: 'payout', payoutId: 'P-cut0', coins: 10 });
  t.like(await readPhysicalTruth(r.redis, r.env.keys), { inventory: 100, dispensed: 10, countLost: true });
  t.like(await readPhysicalPayout(r.redis, r.env.keys, 'P-cut0'), { paid: 0, lost: true });
});
