/**
 * An absolute hopper level is written once per event, atomically with the
 * event's guard: the business app dying right after the level reached Redis,
 * then paying coins, then re-running the event (BullMQ at-least-once) must
 * not write the old level over the payout (books' inventory would disagree
 * with the hopper). The crash-point tier found it on the debt path
 * (docs/durability.md); here the crash is a connection that stops answering
 * right after the first write carrying the new level. A status report's
 * level, too, is the books' level when it settles a payout.
 */
import test from 'ava';
import type { HwEvent } from '../../queue/jobs.js';
import { waitFor } from '../helpers/env.js';
import { fakeHardware, startBusinessRig, type Report, type BusinessRig } from '../helpers/business-rig.js';

interface Cmd {
  name: string;
  args: unknown[];
  promise: Promise<unknown>;
  reject(err: Error): void;
}

/** Cuts the business app's connection right after Redis answered the first write carrying `inventory` = `level`; returns the revive, which tells whether it died. */
function dieAfterLevelWrite(rig: BusinessRig, level: number): () => boolean {
  const conn = rig.redis as unknown as { sendCommand(c: Cmd, ...rest: unknown[]): unknown };
  const send = conn.sendCommand.bind(conn);
  // An HSET's args hold `"inventory",200`; a plan's JSON holds `\"inventory\",\"200\"`.
  const carries = new RegExp(`inventory\\\\?",\\\\?"?${level}\\b`);
  let armed = true;
  let dead = false;
  conn.sendCommand = (c: Cmd, ...rest: unknown[]) => {
    if (dead) {
      c.reject(new Error('connection lost (simulated crash)'));
      return c.promise;
    }
    const out = send(c, ...rest);
    if (armed && carries.test(JSON.stringify(c.args))) {
      armed = false;
      // Registered before the caller's own continuation: nothing after this write reaches Redis.
      c.promise.then(() => (dead = true), () => undefined);
    }
    return out;
  };
  return () => {
    const died = dead;
    dead = false;
    conn.sendCommand = send;
    return died;
  };
}

const at = () => Date.now();

async function inventory(rig: BusinessRig): Promise<number> {
  return Number(await rig.redis.hget(rig.t.keys.machine, 'inventory'));
}

/** A 50 NTD coin and its payout sent; the `payout_done` the hardware would report for it in full, with `report` as the level it gives. */
async function coinPayout(rig: BusinessRig, id: string, report?: (coins: number) => { coins: number; lowSensor: boolean }): Promise<Extract<HwEvent, { kind: 'payout_done' }>> {
  const engine = rig.business.engine;
  await engine.handle({ kind: 'coin_accepted', amount: 50, eventId: `${id}-coin`, at: at() });
  const head = await engine.lane.head();
  if (head?.state !== 'sent') throw new Error(`payout not sent: ${JSON.stringify(head)}`);
  const done: HwEvent = { kind: 'payout_done', payoutId: head.payoutId, requested: head.coins, paid: head.coins, unpaid: 0, reason: 'complete', eventId: `${id}-done`, at: at() };
  if (report) done.hopper = report(head.coins);
  return done;
}

/** A coin paid in full; resolves with the coins paid. */
async function payCoin(rig: BusinessRig, id: string): Promise<number> {
  const done = await coinPayout(rig, id);
  await rig.business.engine.handle(done);
  return done.paid;
}

test('a hopper_level event re-run after a crash and a payout does not write its level over the payout', async (t) => {
  const rig = await startBusinessRig({ sim: false });
  t.teardown(() => rig.close());
  const engine = rig.business.engine;
  const refill: HwEvent = { kind: 'hopper_level', coins: 200, lowSensor: false, eventId: 'ev-refill', at: at() };

  const revive = dieAfterLevelWrite(rig, 200);
  await engine.handle(refill).catch(() => undefined);
  t.true(revive(), 'the app died right after the level write');
  t.is(await inventory(rig), 200, 'the level reached Redis before the crash');

  const paid = await payCoin(rig, 'ev-a');
  t.is(await inventory(rig), 200 - paid);

  // BullMQ re-runs the job whose run died.
  await engine.handle(refill);
  t.is(await inventory(rig), 200 - paid, "books' inventory still counts the payout made after the level");
});

test("a payout_done re-run after a crash and a later payout does not write its reported level over that payout", async (t) => {
  const rig = await startBusinessRig({ sim: false });
  t.teardown(() => rig.close());
  const engine = rig.business.engine;
  await engine.handle({ kind: 'hopper_level', coins: 200, lowSensor: false, eventId: 'ev-level', at: at() });

  // The first payout's report carries the level after it; the app dies right after writing it.
  const done = await coinPayout(rig, 'ev-a', (coins) => ({ coins: 200 - coins, lowSensor: false }));
  const after = done.hopper!.coins;
  const revive = dieAfterLevelWrite(rig, after);
  await engine.handle(done).catch(() => undefined);
  revive();
  t.is(await inventory(rig), after);

  const paid = await payCoin(rig, 'ev-b');
  t.is(await inventory(rig), after - paid);

  await engine.handle(done);
  t.is(await inventory(rig), after - paid, "books' inventory still counts the later payout");
});

test('a payout the status report says was paid is booked at the reported level, not that level minus the payout again', async (t) => {
  const rig = await startBusinessRig({ sim: false, stuck: { stuckAfterMs: 300, msPerCoin: 0, reportTimeoutMs: 1_000 } });
  let report: Report | null = null;
  const hw = await fakeHardware(rig.t.keys.bullPrefix, () => report);
  t.teardown(async () => {
    await hw.close();
    await rig.close();
  });
  await rig.feed({ kind: 'hopper_level', coins: 200, lowSensor: false, eventId: 'ev-level', at: at() });
  await waitFor(async () => (await inventory(rig)) === 200, 5_000, 'the level');
  await rig.feed({ kind: 'coin_accepted', amount: 50, eventId: 'ev-coin', at: at() });
  const sent = await waitFor(() => hw.payouts()[0], 5_000, 'payout sent');

  // The payout's end never arrives; asked, the hardware says it paid in full and gives its level after it.
  report = { inventory: 200 - sent.coins, doorOpen: false, acceptorsEnabled: true, payouts: [{ payoutId: sent.payoutId, requested: sent.coins, paid: sent.coins, done: true }] };
  await waitFor(() => rig.business.engine.lane.isEmpty(), 10_000, 'the payout settled');
  t.is(await inventory(rig), 200 - sent.coins);
});
