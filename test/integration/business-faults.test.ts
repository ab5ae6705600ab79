/**
 * Faults and alarms against the real simulator: the hopper running out
 * mid-payout (debt, error 42, paid after a refill), alarm 1 from the
 * inventory, alarm 2 from the door, error 21 from the bill acceptor, and a
 * jam (41). Each raise and clear is checked as the exact message data.
 */
import test from 'ava';
import { transactionDataSchema, type Envelope } from '../../shared/messages.js';
import { startBusinessRig, dataOf, type BusinessRig } from '../helpers/business-rig.js';

const code = (type: 'error' | 'alarm', n: number, state: 'raised' | 'cleared') => (m: Envelope) =>
  m.message_type === type && dataOf(m)[`${type}_code`] === n && dataOf(m).state === state;

async function booksMatchTruth(t: any, rig: BusinessRig) {
  const truth = await rig.truth();
  const snap = await rig.snapshot();
  t.is(snap.counters.total_bills + snap.counters.total_coins, truth.billsNtd + truth.coinsNtd, 'cash in');
  t.is(snap.counters.total_dispensed, truth.dispensed, 'coins out');
  t.is(snap.inventory, truth.inventory, 'inventory');
}

test('hopper runs out during a 1000 NTD payout: debt, error 42, paid after a refill', async (t) => {
  const rig = await startBusinessRig({ simInventory: 30 });
  t.teardown(() => rig.close());
  // 30 coins is below the warning level of 100: alarm 1.
  const [low] = await rig.waitMessages(code('alarm', 1, 'raised'), 1);
  t.like(dataOf(low!), { alarm_description: '低幣量', severity: 'warning', current_level: 30, recommended_action: '儘快補充硬幣', impact: { service_available: true } });
  t.deepEqual(dataOf(low!).details, { inventory: 30, low_warning_threshold: 100, low_critical_threshold: 20 });

  // 30 coins cannot cover a 1000 NTD bill, so the agent inhibits it: only an acceptor that ignores that takes it.
  t.is(await rig.act({ action: 'bill', amount: 1000 }), 'refused');
  t.is(await rig.act({ action: 'bill', amount: 1000, stray: true }), 'accepted');
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  const d = dataOf(txn!);
  t.is(d.success, false);
  t.is(d.debt_coins, 70);
  t.deepEqual(d.amounts, { bills_inserted: 1000, coins_inserted: 0, coins_dispensed: 30, transaction_amount: 1000, coin_value: 10 });

  const [e42] = await rig.waitMessages(code('error', 42, 'raised'), 1);
  const e = dataOf(e42!);
  t.like(e, {
    error_description: '退幣器已無硬幣',
    error_category: 'dispenser',
    severity: 'critical',
    suggested_action: '補充硬幣',
    auto_recoverable: false,
    impact: { service_available: false, estimated_downtime: 'immediate_action_required' },
  });
  t.deepEqual(e.affected_functions, ['coin_dispense', 'exchange']);
  t.is(e.context.pending_dispense, 70);
  t.is(e.context.transaction_id, d.transaction_id);
  t.false('security' in e);
  t.false('recovery' in e);

  // The accounting after the transaction: fault, debt, code 42.
  const acc = await rig.waitMessages((m) => m.message_type === 'accounting' && dataOf(m).current_state.debt_coins === 70, 1);
  t.like(dataOf(acc[0]!), { machine_status: 4, status_description: '故障', codes: { error_code: 42, alarm_code: 1 } });
  await rig.waitMessages((m) => m.message_type === 'status' && dataOf(m).machine_status === 4, 1);
  t.false((await rig.truth()).acceptorsEnabled, 'critical fault disables the acceptors');
  await booksMatchTruth(t, rig);
  t.is((await rig.snapshot()).counters.debt_coins, 70);
  // 42 and 44 (the low-level sensor of an empty hopper): error_count_today counts every raise.
  const raisedErrors = rig.of('error').filter((m) => dataOf(m).state === 'raised').map((m) => dataOf(m).error_code);
  t.deepEqual(raisedErrors.sort(), [42, 44]);
  t.is((await rig.snapshot()).today.errors, 2);

  // Refill: the debt is paid first, 42 clears, alarm 1 clears (130 >= 100), acceptors back on.
  await rig.act({ action: 'refill', coins: 200 });
  const [c42] = await rig.waitMessages(code('error', 42, 'cleared'), 1);
  t.is(dataOf(c42!).impact.service_available, true);
  await rig.waitMessages(code('alarm', 1, 'cleared'), 1);
  await rig.settle();
  const snap = await rig.snapshot();
  t.is(snap.counters.debt_coins, 0);
  t.is(snap.counters.total_dispensed, 100);
  t.deepEqual(snap.activeErrors, []);
  t.is(snap.status, 1);
  await booksMatchTruth(t, rig);
  const truth = await rig.truth();
  t.is(truth.dispensed, 100);
  t.is(truth.inventory, 130);
  t.true(truth.acceptorsEnabled);
  const last = rig.of('accounting').at(-1)!;
  t.like(dataOf(last), { machine_status: 1, current_state: { debt_coins: 0, balance: 1000 }, codes: { error_code: 0, alarm_code: 0 } });
  // The debt payout is a transaction of its own kind, carrying the exchange's id: the coins of all transactions add up to total_dispensed.
  const txns = rig.of('transaction').map(dataOf);
  t.deepEqual(txns.map((x) => x.transaction_type), ['exchange', 'debt_payout']);
  t.like(txns[1], { transaction_id: d.transaction_id, success: true, debt_coins: 0, amounts: { coins_dispensed: 70, transaction_amount: 0, bills_inserted: 0 } });
  t.true(transactionDataSchema.safeParse(txns[1]).success);
  t.is(txns.reduce((sum, x) => sum + x.amounts.coins_dispensed, 0), snap.counters.total_dispensed);
});

test('door: alarm 2 raised and cleared, acceptors off while open', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.settle();
  await rig.act({ action: 'door', open: true });
  const [raised] = await rig.waitMessages(code('alarm', 2, 'raised'), 1);
  t.like(dataOf(raised!), { alarm_description: '前門開啟', severity: 'warning', current_level: 'open', recommended_action: '檢查門鎖狀態', impact: { service_available: false } });
  await rig.settle();
  t.false((await rig.truth()).acceptorsEnabled);
  t.is(await rig.act({ action: 'bill', amount: 100 }), 'refused');
  await rig.act({ action: 'door', open: false });
  const [cleared] = await rig.waitMessages(code('alarm', 2, 'cleared'), 1);
  t.like(dataOf(cleared!), { current_level: 'closed', impact: { service_available: true }, state: 'cleared' });
  await rig.settle();
  t.true((await rig.truth()).acceptorsEnabled);
  t.is(await rig.act({ action: 'bill', amount: 100 }), 'accepted');
  await rig.waitMessages((m) => m.message_type === 'transaction', 1);
});

test('bill acceptor fault 21 raises and clears; the next accounting shows 0 again', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.act({ action: 'fault', code: 21 });
  const [raised] = await rig.waitMessages(code('error', 21, 'raised'), 1);
  t.like(dataOf(raised!), {
    error_description: '紙鈔機異常(RS232)',
    error_category: 'bill_acceptor',
    severity: 'high',
    auto_recoverable: true,
    affected_functions: ['bill_accept'],
    impact: { service_available: true },
    recovery: { automatic: true, condition: '紙鈔機連線與電源恢復', recovered: false },
  });
  await rig.business.machine.publishAccounting();
  await rig.waitMessages((m) => m.message_type === 'accounting' && dataOf(m).codes.error_code === 21, 1);
  await rig.act({ action: 'clear', code: 21 });
  const [cleared] = await rig.waitMessages(code('error', 21, 'cleared'), 1);
  t.like(dataOf(cleared!), { state: 'cleared', recovery: { recovered: true } });
  t.is(typeof dataOf(cleared!).context.duration_seconds, 'number');
  await rig.business.machine.publishAccounting();
  const accs = await rig.waitMessages((m) => m.message_type === 'accounting', 2);
  t.like(dataOf(accs.at(-1)!), { codes: { error_code: 0, alarm_code: 0 } });
  t.is((await rig.snapshot()).today.errors, 1, 'error_count_today counts raises');
});

test('a jam raises 41, stops the service, and the owed coins are paid once 41 is cleared', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.act({ action: 'jam' });
  await rig.act({ action: 'bill', amount: 100 });
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.is(dataOf(txn!).success, false);
  const paid = dataOf(txn!).amounts.coins_dispensed;
  t.is(dataOf(txn!).debt_coins, 10 - paid);
  await rig.waitMessages(code('error', 41, 'raised'), 1);
  await rig.settle();
  t.is((await rig.snapshot()).status, 4);
  t.false((await rig.truth()).acceptorsEnabled);
  await rig.act({ action: 'clear', code: 41 });
  await rig.waitMessages(code('error', 41, 'cleared'), 1);
  await rig.settle();
  const snap = await rig.snapshot();
  t.is(snap.counters.debt_coins, 0);
  t.is(snap.counters.total_dispensed, 10);
  await booksMatchTruth(t, rig);
});

test('link down raises 41 (service stops), link up clears only what the link raised', async (t) => {
  const rig = await startBusinessRig({ sim: false });
  t.teardown(() => rig.close());
  const at = Date.now();
  await rig.feed({ kind: 'link', up: false, eventId: 'link-1', at });
  const [down] = await rig.waitMessages(code('error', 41, 'raised'), 1);
  t.like(dataOf(down!), { error_description: '退幣器故障', severity: 'critical', context: { link: 'down' }, impact: { service_available: false } });
  await rig.waitMessages((m) => m.message_type === 'status' && dataOf(m).machine_status === 4, 1);
  await rig.settle();
  const snap = await rig.snapshot();
  // The books hold what the hardware confirmed; unreachable, it confirms nothing: the agent keeps asking for off.
  const asked = await rig.hwCommands('set_acceptors');
  t.like(asked.at(-1), { kind: 'set_acceptors', enabled: false });
  t.deepEqual(snap.serviceStatus, { coin_acceptor: 'offline', bill_acceptor: 'offline', dispenser: 'offline', display: 'offline' });
  await rig.feed({ kind: 'link', up: true, eventId: 'link-2', at });
  await rig.waitMessages(code('error', 41, 'cleared'), 1);
  await rig.settle();
  t.is((await rig.snapshot()).status, 1);

  // A jam's 41 (raised by the hardware) is not cleared by the link coming back.
  await rig.feed({ kind: 'fault_raised', code: 41, context: { cause: 'jam' }, eventId: 'jam-1', at });
  await rig.waitMessages(code('error', 41, 'raised'), 2);
  await rig.feed({ kind: 'link', up: false, eventId: 'link-3', at });
  await rig.feed({ kind: 'link', up: true, eventId: 'link-4', at });
  await rig.settle();
  t.deepEqual((await rig.snapshot()).activeErrors, [41]);
  t.is(rig.of('error').filter(code('error', 41, 'cleared')).length, 1);
});
