/**
 * A payout whose end was never heard of is never re-sent blindly
 * (docs/architecture.md#invariant-2). The test plays the hardware: it records
 * `hw-commands` and answers `report_status` with the status report of its
 * choice, then checks what the engine decided.
 */
import test, { type ExecutionContext } from 'ava';
import type { HwCommand, HwEvent } from '../../queue/index.js';
import { waitFor } from '../helpers/env.js';
import { pino } from 'pino';
import { systemClock } from '../../shared/clock.js';
import { redisMetrics } from '../../shared/metrics.js';
import { startCommandPipeline, startCommandVerifier } from '../../workers/business/commands/index.js';
import { clearError, parseClearErrorArgs } from '../../cli/commands/clear-error.js';
import { startBusinessRig, dataOf, fakeHardware, type BusinessRig, type Report } from '../helpers/business-rig.js';
import { Queue } from 'bullmq';
import { queueNames } from '../../queue/index.js';

/** A rig that asks the hardware about a payout after 300 ms without news, with the fake hardware answering. */
async function quickToAsk(t: ExecutionContext, answer: () => Report | null, refuse?: (c: HwCommand) => boolean) {
  const rig = await startBusinessRig({ sim: false, stuck: { stuckAfterMs: 300, msPerCoin: 0, reportTimeoutMs: 1_000 } });
  const hw = await fakeHardware(rig.t.keys.bullPrefix, answer, refuse);
  t.teardown(async () => {
    await hw.close();
    await rig.close();
  });
  return { rig, hw };
}

const done = (payoutId: string, requested: number, paid: number, reason: Extract<HwEvent, { kind: 'payout_done' }>['reason'] = 'complete'): HwEvent => ({
  kind: 'payout_done',
  eventId: `payout-done-${payoutId}`,
  at: Date.now(),
  payoutId,
  requested,
  paid,
  unpaid: requested - paid,
  reason,
});

const bill = (id: string): HwEvent => ({ kind: 'bill_accepted', amount: 100, eventId: id, at: Date.now() });
const healthy: Report = { inventory: 500, doorOpen: false, acceptorsEnabled: true, payouts: [] };

test('after a restart, a payout the hardware never received is issued again with the same id, and paid once', async (t) => {
  let rig = await startBusinessRig({ sim: false });
  const hw = await fakeHardware(rig.t.keys.bullPrefix, () => healthy);
  t.teardown(async () => {
    await hw.close();
    await rig.close();
  });
  await rig.feed(bill('ev-bill-1'));
  const [sent] = await waitFor(() => (hw.payouts().length === 1 ? hw.payouts() : null), 5_000, 'payout sent');
  t.is(sent!.coins, 10);

  // The business app restarts before any news of the payout; the hardware says it does not know the id.
  await rig.stop();
  rig = await startBusinessRig({ sim: false, reuse: rig.t });
  const again = await waitFor(() => (hw.payouts().length === 2 ? hw.payouts()[1] : null), 5_000, 'payout re-issued');
  t.is(again.payoutId, sent!.payoutId, 'same id: the hardware pays it at most once');
  t.is(again.coins, 10);

  await rig.feed(done(sent!.payoutId, 10, 10));
  await rig.feed({ ...done(sent!.payoutId, 10, 10), eventId: 'a-repeated-report' });
  await rig.feed(bill('ev-bill-1')); // the same credit delivered again
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(txn!), { success: true, amounts: { coins_dispensed: 10 } });
  await rig.settle();
  const snap = await rig.snapshot();
  t.like(snap.counters, { total_bills: 100, total_dispensed: 10, debt_coins: 0, balance: 100 });
  t.is(hw.payouts().length, 2);
});

test('a payout stopped part-way (power loss) is finished by a new payout for the rest only', async (t) => {
  let judged: Report | null = healthy;
  const { rig, hw } = await quickToAsk(t, () => judged);
  await rig.feed(bill('ev-bill-2'));
  const [first] = await waitFor(() => (hw.payouts().length === 1 ? hw.payouts() : null), 5_000, 'payout sent');
  // No news: the engine asks by itself; the hardware says 4 of 10 were paid and the payout ended.
  judged = { ...healthy, payouts: [{ payoutId: first!.payoutId, requested: 10, paid: 4, done: true }] };
  const rest = await waitFor(() => hw.payouts()[1], 5_000, 'payout for the rest');
  t.not(rest.payoutId, first!.payoutId);
  t.is(rest.coins, 6);
  await rig.feed(done(rest.payoutId, 6, 6));
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(txn!), { success: true, amounts: { coins_dispensed: 10 } });
  await rig.settle();
  t.like((await rig.snapshot()).counters, { total_dispensed: 10, debt_coins: 0 });
});

test('a payout the hardware ends in doubt (a hopper that lost its counts): what it knows is paid, the rest is debt in doubt with 51, never paid again by itself', async (t) => {
  const { rig, hw } = await quickToAsk(t, () => healthy);
  await rig.feed(bill('ev-bill-doubt'));
  const [sent] = await waitFor(() => (hw.payouts().length === 1 ? hw.payouts() : null), 5_000, 'payout sent');
  await rig.feed(done(sent!.payoutId, 10, 3, 'in_doubt'));
  const [e51] = await rig.waitMessages((m) => m.message_type === 'error' && dataOf(m).error_code === 51, 1);
  t.like(dataOf(e51!), { state: 'raised', context: { payout_id: sent!.payoutId, coins_in_doubt: 7, debt_coins: 7 } });
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(txn!), { success: false, debt_coins: 7, amounts: { coins_dispensed: 3 } });
  await rig.settle();
  t.is(hw.payouts().length, 1, 'the rest is not paid by a new payout');
  t.like((await rig.snapshot()).counters, { total_dispensed: 3, debt_coins: 7 });
});

test('when the hardware cannot tell, the coins become debt with error 51 and wait for a person', async (t) => {
  let judged: Report | null = healthy;
  const { rig, hw } = await quickToAsk(t, () => judged);
  await rig.feed(bill('ev-bill-3'));
  await waitFor(() => hw.payouts().length === 1, 5_000, 'payout sent');
  judged = { inventory: null, doorOpen: false, acceptorsEnabled: true, payouts: [] };
  const [e51] = await rig.waitMessages((m) => m.message_type === 'error' && dataOf(m).error_code === 51, 1);
  t.like(dataOf(e51!), { error_description: '兌幣紀錄異常', state: 'raised', context: { coins_in_doubt: 10, debt_coins: 10 } });
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(txn!), { success: false, debt_coins: 10, amounts: { coins_dispensed: 0 } });
  judged = healthy;
  await rig.feed({ kind: 'hopper_level', coins: 500, lowSensor: false, eventId: 'lvl-1', at: Date.now() });
  await rig.settle();
  t.is(hw.payouts().length, 1, 'no guess: the debt is not paid while 51 is active');
  t.is((await rig.snapshot()).counters.debt_coins, 10);

  // 51 cleared at the machine without saying whether the coins left: nothing is paid (docs/commands.md "Error 51").
  await rig.feed({ kind: 'fault_cleared', code: 51, eventId: 'clr-51', at: Date.now() });
  await waitFor(async () => !(await rig.snapshot()).activeErrors.includes(51), 5_000, '51 cleared');
  await rig.settle();
  t.is(hw.payouts().length, 1, 'clearing without a choice pays nothing');
  t.is((await rig.snapshot()).counters.debt_coins, 10);

  // A person says the coins did not leave: now the debt is paid.
  await rig.business.machine.decideDoubt({ choice: 'not_paid', operator: 'tech-1', reason: 'hopper counted' });
  const debt = await waitFor(() => hw.payouts()[1], 5_000, 'debt payout');
  t.is(debt.coins, 10);
  await rig.feed(done(debt.payoutId, 10, 10));
  await waitFor(async () => (await rig.snapshot()).counters.debt_coins === 0, 5_000, 'debt paid');
  t.is((await rig.snapshot()).counters.total_dispensed, 10);
});

/** The request ids of the first `n` status questions the engine queued for the hardware, oldest first. */
async function statusQuestions(rig: BusinessRig, n: number): Promise<string[]> {
  const asked = await waitFor(async () => {
    const all = await rig.hwCommands('report_status');
    return all.length >= n ? all : null;
  }, 10_000, `status question ${n}`);
  return asked.map((q) => (q as Extract<HwCommand, { kind: 'report_status' }>).requestId);
}

test('a status report without the payout proves nothing while its command is still queued for the hardware app: no 51, paid once', async (t) => {
  // No hardware app yet: the payout's command waits in hw-commands, and so does the engine's question.
  // The question is not asked again while open: the one answered below is the open one.
  const rig = await startBusinessRig({ sim: false, stuck: { stuckAfterMs: 300, msPerCoin: 0, reportTimeoutMs: 60_000 } });
  t.teardown(() => rig.close());
  await rig.feed({ kind: 'hopper_level', coins: 500, lowSensor: false, eventId: 'lvl-q', at: Date.now() });
  await rig.feed(bill('ev-bill-queued'));
  const questions = (n: number) => statusQuestions(rig, n);
  // The start-up question is answered (the payout was sent after it: no verdict), then the engine asks about the payout.
  const [startup] = await questions(1);
  await rig.feed({ kind: 'status_report', requestId: startup!, eventId: 'sr-startup', at: Date.now(), ...healthy });
  const asked = await questions(2);
  const requestId = asked[1]!;
  // A board that lost its count answers without the payout (a restarted hardware app took the question first).
  await rig.feed({ kind: 'status_report', requestId, eventId: 'sr-queued', at: Date.now(), inventory: null, doorOpen: false, acceptorsEnabled: true, payouts: [] });
  // Judged either way: settled unknown (51 raised) or waiting (the question asked again once the wait is over).
  await waitFor(async () => (await rig.snapshot()).activeErrors.includes(51) || (await rig.hwCommands('report_status')).length > asked.length, 5_000, 'report judged');
  t.false((await rig.snapshot()).activeErrors.includes(51), 'not settled unknown while the command is queued');

  // The hardware app takes the command and the payout ends normally.
  const hw = await fakeHardware(rig.t.keys.bullPrefix, () => healthy);
  t.teardown(() => hw.close());
  const [sent] = await waitFor(() => (hw.payouts().length >= 1 ? hw.payouts() : null), 5_000, 'payout taken');
  await rig.feed(done(sent!.payoutId, 10, 10));
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(txn!), { success: true, amounts: { coins_dispensed: 10 } });
  await rig.settle();
  const snap = await rig.snapshot();
  t.like(snap.counters, { total_dispensed: 10, debt_coins: 0 });
  t.false(snap.activeErrors.includes(51));
  t.true(hw.payouts().every((p) => p.payoutId === sent!.payoutId), 'one payout id: the hardware pays it at most once');
});

test('a payout marked sent whose command was never added (a crash in between) is issued again, even when the board lost its count: no 51', async (t) => {
  const rig = await startBusinessRig({ sim: false, stuck: { stuckAfterMs: 300, msPerCoin: 0, reportTimeoutMs: 60_000 } });
  t.teardown(() => rig.close());
  await rig.feed({ kind: 'hopper_level', coins: 500, lowSensor: false, eventId: 'lvl-n', at: Date.now() });
  await rig.feed(bill('ev-bill-never-added'));
  // What a crash right after the payout was marked sent leaves: the intent `sent`, no command in hw-commands.
  const queue = new Queue(queueNames.hwCommands, { connection: rig.redis, prefix: rig.t.keys.bullPrefix });
  t.teardown(() => queue.close());
  const [command] = await waitFor(async () => {
    const jobs = (await queue.getJobs(['waiting'])).filter((j) => j.name === 'payout');
    return jobs.length > 0 ? jobs : null;
  }, 5_000, 'payout command');
  const payoutId = (command!.data as { payoutId: string }).payoutId;
  await command!.remove();
  const [startup] = await statusQuestions(rig, 1);
  await rig.feed({ kind: 'status_report', requestId: startup!, eventId: 'sr-n-startup', at: Date.now(), ...healthy });
  const asked = await statusQuestions(rig, 2);
  await rig.feed({ kind: 'status_report', requestId: asked[1]!, eventId: 'sr-n', at: Date.now(), inventory: null, doorOpen: false, acceptorsEnabled: true, payouts: [] });
  await waitFor(async () => (await rig.snapshot()).activeErrors.includes(51) || (await rig.hwCommands('payout')).length > 0, 5_000, 'report judged');
  t.false((await rig.snapshot()).activeErrors.includes(51), 'no coins in doubt: the board never got the command');
  const again = await rig.hwCommands('payout');
  t.is(again.length, 1);
  t.like(again[0], { payoutId, coins: 10 }, 'the same id issued again');
  t.is((await rig.snapshot()).counters.debt_coins, 0);
});

test('a payout refused by a hardware without an inventory whose records are intact (ccTalk) is issued again: no 51, paid once', async (t) => {
  let refused = 0;
  const ccTalk: Report = { inventory: null, doorOpen: false, acceptorsEnabled: true, payouts: [], recordsIntact: true };
  const { rig, hw } = await quickToAsk(t, () => ccTalk, (c) => c.kind === 'payout' && refused++ === 0);
  await rig.feed(bill('ev-bill-refused'));
  // The first payout command fails at the hardware: nothing recorded there, so its report leaves the payout out.
  const [first, again] = await waitFor(() => (hw.payouts().length >= 2 ? hw.payouts() : null), 10_000, 'payout issued again');
  t.is(again!.payoutId, first!.payoutId, 'the same id: the hardware pays it at most once');
  await rig.feed(done(first!.payoutId, 10, 10));
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(txn!), { success: true, amounts: { coins_dispensed: 10 } });
  await rig.settle();
  const snap = await rig.snapshot();
  t.false(snap.activeErrors.includes(51), 'no coins in doubt');
  t.like(snap.counters, { total_dispensed: 10, debt_coins: 0 });
});

/** A bill paid by a payout the hardware then cannot account for, settled by the engine's own write. */
async function unknownOutcome(t: ExecutionContext, billId: string) {
  let rig = await startBusinessRig({ sim: false });
  const hw = await fakeHardware(rig.t.keys.bullPrefix, () => healthy);
  t.teardown(async () => {
    await hw.close();
    await rig.close();
  });
  await rig.feed({ kind: 'hopper_level', coins: 500, lowSensor: false, eventId: `${billId}-level`, at: Date.now() });
  await rig.feed(bill(billId));
  await waitFor(() => hw.payouts().length === 1, 5_000, 'payout sent');
  const intent = (await rig.business.engine.lane.head())!;
  // Only the settlement's write, then what the engine derives from the state — exactly what a crash
  // (kill -9, or a Redis blip on the hand-over) right after that write leaves to the next start.
  const engine = rig.business.engine;
  await engine.act(() => engine.lane.settle(intent, 0, 'unknown', rig.t.keys.appliedEvent(`${billId}-judged`)));
  return { rig: () => rig, hw, restart: async () => {
    await rig.stop();
    rig = await startBusinessRig({ sim: false, reuse: rig.t });
    return rig;
  } };
}

test('error 51 is committed with the unknown settlement: a crash right after it never pays the coins in doubt', async (t) => {
  const u = await unknownOutcome(t, 'ev-bill-51a');
  let rig = u.rig();
  const snap = await rig.snapshot();
  t.true(snap.activeErrors.includes(51), '51 in the same write as the settlement');
  t.is(snap.counters.debt_coins, 10);
  await rig.settle();
  t.is(u.hw.payouts().length, 1, 'the debt in doubt is held');

  rig = await u.restart();
  await rig.feed({ kind: 'hopper_level', coins: 500, lowSensor: false, eventId: 'lvl-51a', at: Date.now() });
  await rig.settle();
  t.is(u.hw.payouts().length, 1, 'still held after a restart');

  // State an older version (or a hand edit) could leave: debt in doubt without 51. The next start re-derives 51.
  await rig.redis.hdel(rig.t.keys.activeCodes, 'error:51');
  rig = await u.restart();
  await waitFor(async () => (await rig.snapshot()).activeErrors.includes(51), 5_000, '51 re-derived on start');
  await rig.settle();
  t.is(u.hw.payouts().length, 1);
  t.is((await rig.snapshot()).counters.debt_coins, 10);
});

test('error 51 decided "the coins were paid": the debt is written off and booked as dispensed, recorded in the journal, nothing paid', async (t) => {
  const u = await unknownOutcome(t, 'ev-bill-51b');
  const rig = u.rig();
  const before = await rig.snapshot();
  const r = await rig.business.machine.decideDoubt({ choice: 'paid', operator: 'tech-2', reason: 'hopper counted: 10 short' });
  t.like(r, { choice: 'paid', coinsInDoubt: 10, debtWrittenOff: 10, debtToPay: 0, debtAfter: 0 });
  const after = await rig.snapshot();
  t.false(after.activeErrors.includes(51));
  t.like(after.counters, { debt_coins: 0, total_dispensed: before.counters.total_dispensed + 10 });
  const [cleared] = await rig.waitMessages((m) => m.message_type === 'error' && dataOf(m).error_code === 51 && dataOf(m).state === 'cleared', 1);
  t.like(dataOf(cleared!).context, { resolution: 'paid', coins_in_doubt: 10, debt_written_off: 10, operator_id: 'tech-2' });
  const journal = await rig.redis.zrange(rig.t.keys.journal, '0', '-1');
  t.true(journal.some((id) => id.startsWith('DEBT51_')), 'the decision is in the journal');
  await rig.settle();
  t.is(u.hw.payouts().length, 1, 'nothing paid again');
  await t.throwsAsync(rig.business.machine.decideDoubt({ choice: 'not_paid', operator: null, reason: null }), { message: /沒有待確認/ });
});

test('"the coins were paid" after a level the hardware counted since the unknown outcome: the level is not taken down twice', async (t) => {
  const u = await unknownOutcome(t, 'ev-bill-51lvl');
  const rig = u.rig();
  // The books' level before the unknown outcome was 500; the hardware now counts 490: the 10 in doubt left.
  await rig.feed({ kind: 'hopper_level', coins: 490, lowSensor: false, eventId: 'lvl-51lvl', at: Date.now() });
  await waitFor(async () => (await rig.redis.hget(rig.t.keys.machine, 'inventory')) === '490', 5_000, 'level counted');
  const r = await rig.business.machine.decideDoubt({ choice: 'paid', operator: 'tech-5', reason: 'hopper counted' });
  t.like(r, { choice: 'paid', debtWrittenOff: 10, debtAfter: 0 });
  t.is(await rig.redis.hget(rig.t.keys.machine, 'inventory'), '490', 'the counted level already has the coins out');
  t.like((await rig.snapshot()).counters, { debt_coins: 0, total_dispensed: 10 });
});

test('"the coins were paid" with no level counted since: the coins come off the books\' level', async (t) => {
  const u = await unknownOutcome(t, 'ev-bill-51nolvl');
  const rig = u.rig();
  t.is(await rig.redis.hget(rig.t.keys.machine, 'inventory'), '500');
  await rig.business.machine.decideDoubt({ choice: 'paid', operator: 'tech-6', reason: 'hopper counted' });
  t.is(await rig.redis.hget(rig.t.keys.machine, 'inventory'), '490');
});

test('a decision about 51 re-run under the same command id (a crash before its result was stored) gets the same answer and changes nothing', async (t) => {
  const u = await unknownOutcome(t, 'ev-bill-51r');
  const rig = u.rig();
  const decision = { commandId: 'CMD-51-RERUN', choice: 'paid' as const, operator: 'tech-4', reason: 'hopper counted' };
  const first = await rig.business.machine.decideDoubt(decision);
  t.like(first, { choice: 'paid', coinsInDoubt: 10, debtWrittenOff: 10, debtAfter: 0 });
  const books = await rig.snapshot();
  const again = await rig.business.machine.decideDoubt(decision);
  t.deepEqual(again, first);
  const after = await rig.snapshot();
  t.deepEqual(after.counters, books.counters, 'written off once');
  const decisions = (await rig.redis.zrange(rig.t.keys.journal, '0', '-1')).filter((id) => id.startsWith('DEBT51_'));
  t.is(decisions.length, 1, 'journaled once');
  await t.throwsAsync(rig.business.machine.decideDoubt({ ...decision, commandId: 'CMD-51-OTHER' }), { message: /沒有待確認/ }, 'another command is refused: nothing left in doubt');
});

test('coinerex clear-error 51: --no-choice clears 51 and pays nothing, --not-paid pays the debt, each a clear_error command', async (t) => {
  const u = await unknownOutcome(t, 'ev-bill-51c');
  const rig = u.rig();
  const metrics = redisMetrics(rig.redis, rig.t.keys);
  const { machine, outbox } = rig.business;
  const log = pino({ level: 'silent' });
  const verifier = startCommandVerifier(rig.t.config, log);
  const connections = { commands: rig.redis.duplicate(), dispense: rig.redis.duplicate() };
  const pipeline = await startCommandPipeline({ config: rig.t.config, log, keys: rig.t.keys, redis: rig.redis, machine, outbox, clock: systemClock, metrics, verifier, connections });
  t.teardown(async () => {
    await pipeline.close();
    await verifier.close();
    for (const c of Object.values(connections)) c.disconnect();
  });
  const quiet = () => undefined;
  t.throws(() => parseClearErrorArgs(['51']), { message: /exactly one of/ });
  t.throws(() => parseClearErrorArgs(['51', '--paid', '--not-paid']), { message: /exactly one of/ });
  t.throws(() => parseClearErrorArgs(['41', '--paid']), { message: /only 51/ });

  t.is(await clearError(rig.t.config, parseClearErrorArgs(['51', '--no-choice', '--operator', 'tech-3']), quiet), 0);
  t.false((await rig.snapshot()).activeErrors.includes(51));
  await rig.settle();
  t.is(u.hw.payouts().length, 1, 'no choice: nothing paid');
  t.is((await rig.snapshot()).counters.debt_coins, 10);

  t.is(await clearError(rig.t.config, parseClearErrorArgs(['51', '--not-paid', '--reason', 'hopper counted']), quiet), 0);
  const debt = await waitFor(() => u.hw.payouts()[1], 5_000, 'debt payout');
  t.is(debt.coins, 10);
  const [decided] = await rig.waitMessages((m) => m.message_type === 'error' && dataOf(m).error_code === 51 && dataOf(m).context?.resolution === 'not_paid', 1);
  t.like(dataOf(decided!).context, { coins_in_doubt: 10, debt_to_pay: 10, debt_written_off: 0 });
  t.is(await clearError(rig.t.config, parseClearErrorArgs(['51', '--paid']), quiet), 1, 'nothing left to decide');
});

test('a 51 the board raised, with no debt on the books, is decided and cleared too', async (t) => {
  const { rig } = await quickToAsk(t, () => healthy);
  await rig.feed({ kind: 'fault_raised', code: 51, eventId: 'board-51', at: Date.now() });
  await waitFor(async () => (await rig.snapshot()).activeErrors.includes(51), 5_000, '51 raised');
  const r = await rig.business.machine.decideDoubt({ choice: 'not_paid', operator: 'tech-4', reason: null });
  t.like(r, { coinsInDoubt: 0, debtWrittenOff: 0, debtToPay: 0, debtAfter: 0 });
  t.false((await rig.snapshot()).activeErrors.includes(51));
});
