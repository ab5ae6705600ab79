/**
 * MachinePort against the real simulator: remote dispense (REMOTE ids,
 * status 3 while it runs, at most once per command id, accounting after)
 * and the lock (persisted, acceptors off, alarm 3, auto-unlock, surviving a
 * restart).
 */
import test from 'ava';
import { transactionDataSchema } from '../../shared/messages.js';
import { configuredSettings } from '../../shared/runtime-settings.js';
import { CommandError } from '../../shared/errors.js';
import { waitFor, watchUnchanged } from '../helpers/env.js';
import { startBusinessRig, dataOf, fakeHardware } from '../helpers/business-rig.js';

test('remote dispense pays once per command id, runs as status 3 and reports a remote_dispense transaction', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.settle();
  const req = { commandId: 'CMD_20250912_001', coins: 40, operatorAccount: 'op1', reason: 'test', deadline: Date.now() + 60_000 };
  const [first, second] = await Promise.all([rig.business.machine.remoteDispense(req), rig.business.machine.remoteDispense(req)]);
  t.deepEqual(first, second);
  t.like(first, { success: true, coinsDispensed: 40, coinsUnpaid: 0, coinsRemaining: 1960 });
  t.regex(first.transactionId, /^REMOTE_\d{8}_\d{6}_001$/);
  const again = await rig.business.machine.remoteDispense(req);
  t.deepEqual(again, first, 'a later call with the same command id pays nothing and returns the outcome');

  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  const d = dataOf(txn!);
  t.true(transactionDataSchema.safeParse(d).success);
  t.like(d, {
    transaction_type: 'remote_dispense',
    transaction_id: first.transactionId,
    command_id: 'CMD_20250912_001',
    amounts: { bills_inserted: 0, coins_inserted: 0, coins_dispensed: 40, transaction_amount: 0, coin_value: 10 },
    balance: { before: 0, after: 0 },
    remote_details: { operator_account: 'op1', coins_dispensed: 40, reason: 'test' },
    success: true,
  });
  await rig.waitMessages((m) => m.message_type === 'status' && dataOf(m).machine_status === 3, 1);
  const acc = await rig.waitMessages((m) => m.message_type === 'accounting' && dataOf(m).counters.remote_dispensed === 40, 1);
  t.like(dataOf(acc[0]!), { machine_status: 1, counters: { total_dispensed: 40, remote_dispensed: 40 } });
  await rig.settle();
  t.is((await rig.truth()).dispensed, 40);
  t.is(rig.of('transaction').length, 1);
  t.is((await rig.snapshot()).today.remote_dispensed, 40);
});

test('remote dispense and an exchange never overlap and both are paid', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.settle();
  await rig.act({ action: 'bill', amount: 1000 });
  const outcome = await rig.business.machine.remoteDispense({ commandId: 'CMD_X', coins: 30, operatorAccount: null, reason: null, deadline: Date.now() + 60_000 });
  t.true(outcome.success);
  await rig.waitMessages((m) => m.message_type === 'transaction', 2);
  await rig.settle();
  // The simulator pays one payout at a time and records each; none overlapped if the sum is exact.
  t.is((await rig.truth()).dispensed, 130);
  t.is((await rig.snapshot()).counters.total_dispensed, 130);
});

test('lock: alarm 3, acceptors off, survives a restart, unlocks itself at until', async (t) => {
  let rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.settle();
  const until = Date.now() + 3_000;
  await rig.business.machine.setLock({ locked: true, reason: 'maintenance', operatorId: 'op', until, messageDisplay: '維修中' });
  const [a3] = await rig.waitMessages((m) => m.message_type === 'alarm' && dataOf(m).alarm_code === 3 && dataOf(m).state === 'raised', 1);
  t.like(dataOf(a3!), { alarm_description: '暫停兌幣', severity: 'info', current_level: 'locked', impact: { service_available: false } });
  await waitFor(async () => !(await rig.truth()).acceptorsEnabled, 5_000, 'acceptors off');
  t.is((await rig.truth()).display, '維修中');
  t.is(await rig.act({ action: 'bill', amount: 100 }), 'refused');

  // Restart: still locked, no second alarm 3.
  await rig.stop();
  rig = await startBusinessRig({ reuse: rig.t });
  const snap = await rig.snapshot();
  t.true(snap.locked);
  t.is(snap.lockUntil, until);
  t.is(await rig.act({ action: 'bill', amount: 100 }), 'refused');

  const [c3] = await rig.waitMessages((m) => m.message_type === 'alarm' && dataOf(m).alarm_code === 3 && dataOf(m).state === 'cleared', 1, 8_000);
  t.true(Date.now() >= until);
  t.like(dataOf(c3!), { state: 'cleared', impact: { service_available: true } });
  await waitFor(async () => (await rig.truth()).acceptorsEnabled, 5_000, 'acceptors on');
  t.false((await rig.snapshot()).locked);
  t.false(rig.of('alarm').some((m) => dataOf(m).alarm_code === 3 && dataOf(m).state === 'raised'), 'no new raise after the restart');
});

test('status messages every statusSeconds; a config change of the interval applies live', async (t) => {
  const rig = await startBusinessRig({ sim: false, env: { COINEREX_STATUS_SECONDS: '1' } });
  t.teardown(() => rig.close());
  const start = Date.now();
  await rig.waitMessages((m) => m.message_type === 'status', 3, 5_000);
  t.true(Date.now() - start >= 1_500);
  const s = dataOf(rig.of('status').at(-1)!);
  t.like(s, { machine_status: 1, status_description: '待機', lock: { locked: false }, door: { open: false }, service_available: true });
  await rig.business.machine.applySettings({ ...configuredSettings(rig.t.config), statusSeconds: 3600 });
  const count = rig.of('status').length;
  t.is((await watchUnchanged(() => rig.of('status').length, 2_500)).after, count, 'no periodic status at the new, longer interval');
});

test('whenIdle (before a restart) waits for a payout in flight, but not forever', async (t) => {
  const rig = await startBusinessRig({ sim: false });
  t.teardown(() => rig.close());
  // No hardware: the payout goes out and never settles, as with a hopper stuck mid-payout.
  await rig.feed({ kind: 'bill_accepted', amount: 100, eventId: 'ev-idle-1', at: Date.now() });
  await waitFor(async () => (await rig.business.engine.lane.head())?.state === 'sent', 5_000, 'payout sent');
  t.true(await rig.business.engine.busy());
  const started = Date.now();
  await rig.business.machine.whenIdle(1_000);
  const waited = Date.now() - started;
  t.true(waited >= 1_000 && waited < 3_000, `waited ${waited} ms`);
  t.true(await rig.business.engine.busy(), 'still busy: it gave up waiting, it did not settle anything');
});

test('a remote dispense that cannot start by its deadline is cancelled (EXPIRED) and never paid later', async (t) => {
  const rig = await startBusinessRig({ sim: false });
  // Hardware that takes payouts and never finishes them: the lane stays busy with the customer's payout.
  const hw = await fakeHardware(rig.t.keys.bullPrefix, () => ({ inventory: 500, doorOpen: false, acceptorsEnabled: true, payouts: [] }));
  t.teardown(async () => {
    await hw.close();
    await rig.close();
  });
  await waitFor(async () => (await rig.snapshot()).inventory === 500, 5_000, 'inventory reported');
  await rig.feed({ kind: 'bill_accepted', amount: 100, eventId: 'ev-deadline-bill', at: Date.now() });
  const [exchange] = await waitFor(() => (hw.payouts().length === 1 ? hw.payouts() : null), 5_000, 'exchange payout sent');
  const started = Date.now();
  const err = await t.throwsAsync(rig.business.machine.remoteDispense({ commandId: 'CMD_LATE', coins: 5, operatorAccount: null, reason: null, deadline: started + 800 }));
  t.true(err instanceof CommandError && err.code === 'EXPIRED', String(err));
  t.true(Date.now() - started < 5_000, 'answered at its deadline, not when the lane frees up');
  t.is(await rig.redis.hget(rig.t.keys.remoteDispense('CMD_LATE'), 'state'), 'cancelled');
  // The exchange payout ends; the cancelled dispense is never sent, and asking again pays nothing.
  await rig.feed({ kind: 'payout_done', eventId: 'ev-deadline-done', at: Date.now(), payoutId: exchange!.payoutId, requested: 10, paid: 10, unpaid: 0, reason: 'complete' });
  await rig.settle();
  t.is(hw.payouts().length, 1);
  await t.throwsAsync(rig.business.machine.remoteDispense({ commandId: 'CMD_LATE', coins: 5, operatorAccount: null, reason: null, deadline: Date.now() + 60_000 }), { message: /逾時/ });
  t.like((await rig.snapshot()).counters, { total_dispensed: 10, remote_dispensed: 0 });
});
