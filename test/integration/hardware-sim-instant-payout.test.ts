/**
 * A hopper that takes no time per coin (COINEREX_SIM_PAYOUT_MS=0) pays a
 * payout in one commit, with exactly the truth and the events of a timed
 * hopper: same coins, same end, same unpaid count.
 */
import test from 'ava';
import { pino } from 'pino';
import type { HwEvent } from '../../queue/jobs.js';
import { workerConnection } from '../../shared/redis.js';
import { readPhysicalTruth, readPhysicalPayout, truthFields } from '../../shared/physical-truth.js';
import { SimDriver } from '../../workers/hardware/sim/sim-driver.js';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';

const log = pino({ level: 'silent' });

/** Runs one payout on a fresh machine; the events without ids and times, the truth, and the commits it took. */
async function payOnce(t: import('ava').ExecutionContext, payoutMs: number, inventory: number, coins: number) {
  const env = testEnv();
  const redis = workerConnection(REDIS_URL);
  const sim = new SimDriver({ redis, keys: env.keys, log }, { initialInventory: inventory, payoutMs, lowLevel: 30, progressEvery: 10 });
  t.teardown(async () => {
    await sim.close();
    await cleanupRedis(env.prefix);
    redis.disconnect();
  });
  const events: HwEvent[] = [];
  sim.onEvent((e) => void events.push(e));
  await sim.start();
  const started = () => events.some((e) => e.kind === 'hopper_level') && (inventory > 0 || events.some((e) => e.kind === 'hopper_empty'));
  await waitFor(started, 5_000, 'the start-up hopper report');
  const from = events.length;
  const versionBefore = Number(await redis.hget(env.keys.simTruth, truthFields.version));
  await sim.execute({ kind: 'payout', payoutId: 'P-x', coins });
  // payout_done, carrying the hopper level, is the payout's last event.
  await waitFor(() => events.slice(from).some((e) => e.kind === 'payout_done'), 5_000, 'payout_done');
  const commits = Number(await redis.hget(env.keys.simTruth, truthFields.version)) - versionBefore;
  const paid = events.slice(from);
  const done = paid.find((e) => e.kind === 'payout_done');
  const shapes = paid.map(({ eventId: _id, at: _at, ...rest }) => rest);
  return { done, shapes, commits, truth: await readPhysicalTruth(redis, env.keys), payout: await readPhysicalPayout(redis, env.keys, 'P-x'), env, redis, sim, events };
}

test('a zero-time payout pays everything in one commit, with the events of a timed hopper', async (t) => {
  const instant = await payOnce(t, 0, 40, 25);
  t.like(instant.done, { kind: 'payout_done', payoutId: 'P-x', requested: 25, paid: 25, unpaid: 0, reason: 'complete', hopper: { coins: 15, lowSensor: true } });
  t.like(instant.truth, { inventory: 15, dispensed: 25 });
  t.like(instant.payout, { requested: 25, paid: 25, done: true, reason: 'complete' });
  t.is(instant.commits, 1, 'acceptance and the whole payout in one commit');
  const timed = await payOnce(t, 1, 40, 25);
  t.deepEqual(instant.shapes, timed.shapes, 'progress, low-level crossing, done and level as a coin-by-coin hopper reports them');
  t.true(instant.shapes.some((e) => e.kind === 'hopper_level' && e.lowSensor && e.coins === 29), 'the low-level sensor trips on the way');
});

test('a zero-time payout running the hopper empty ends hopper_empty with the exact unpaid count', async (t) => {
  const instant = await payOnce(t, 0, 3, 5);
  t.like(instant.done, { kind: 'payout_done', payoutId: 'P-x', requested: 5, paid: 3, unpaid: 2, reason: 'hopper_empty' });
  t.like(instant.truth, { inventory: 0, dispensed: 3 });
  t.like(instant.payout, { paid: 3, done: true, reason: 'hopper_empty' });
  t.is(instant.commits, 1);
  t.true(instant.shapes.some((e) => e.kind === 'hopper_empty'));
  t.like(instant.done, { hopper: { coins: 0, lowSensor: true } });
  t.false(instant.shapes.some((e) => e.kind === 'hopper_level'), 'the level rides on payout_done');
  const timed = await payOnce(t, 1, 3, 5);
  t.deepEqual(instant.shapes, timed.shapes);

  // Its command again pays nothing: the same payout_done (same event id) is re-reported.
  await instant.sim.execute({ kind: 'payout', payoutId: 'P-x', coins: 5 });
  const dones = await waitFor(() => {
    const d = instant.events.filter((e) => e.kind === 'payout_done');
    return d.length >= 2 ? d : undefined;
  }, 5_000, 'the re-report');
  t.is(dones[1]!.eventId, dones[0]!.eventId);
  t.like(dones[1], { paid: 3, unpaid: 2, reason: 'hopper_empty', hopper: undefined }, 'a re-report carries no level');
  t.like(await readPhysicalTruth(instant.redis, instant.env.keys), { inventory: 0, dispensed: 3 });
});

test('a zero-time payout on an empty hopper pays nothing and says so', async (t) => {
  const instant = await payOnce(t, 0, 0, 4);
  t.like(instant.done, { requested: 4, paid: 0, unpaid: 4, reason: 'hopper_empty', hopper: { coins: 0, lowSensor: true } });
  t.like(instant.truth, { inventory: 0, dispensed: 0 });
});
