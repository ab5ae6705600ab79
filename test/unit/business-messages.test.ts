/**
 * Pure parts of the machine core: the verdict on a payout from a status
 * report, how a payout end counts, and the error/transaction message data.
 */
import test from 'ava';
import { transactionDataSchema } from '../../shared/messages.js';
import { endOf, isStuck, judge, type StatusReport } from '../../workers/business/exchange/recovery.js';
import type { OpenTransaction, PayoutIntent } from '../../workers/business/state/records.js';
import { transactionData } from '../../workers/business/exchange/transaction-message.js';
import { errorData } from '../../workers/business/faults/messages.js';

const intent: PayoutIntent = { payoutId: 'po-1', purpose: 'exchange', ref: 'TXN_20250912_103000_001', coins: 10, state: 'sent', createdAt: 0, sentAt: 1_000, paid: 0, attempt: 0 };
const report = (r: Partial<StatusReport>): StatusReport => ({ kind: 'status_report', eventId: 'e', at: 0, requestId: 'r', inventory: 500, doorOpen: false, acceptorsEnabled: true, payouts: [], ...r });

test('judge: what a status report says about a payout decides what is paid', (t) => {
  const known = (paid: number, done: boolean) => [{ payoutId: 'po-1', requested: 10, paid, done }];
  t.deepEqual(judge(intent, report({ payouts: known(10, true) }), 'finished'), { action: 'settle', paid: 10, end: 'complete' });
  t.deepEqual(judge(intent, report({ payouts: known(4, true) }), 'finished'), { action: 'settle', paid: 4, end: 'interrupted' });
  t.deepEqual(judge(intent, report({ payouts: known(4, true), inventory: 0 }), 'finished'), { action: 'settle', paid: 4, end: 'short' });
  t.deepEqual(judge(intent, report({ payouts: known(4, false) }), 'finished'), { action: 'wait' });
  // Ended in doubt (its payout_done missed): the rest is held for a person, not paid as an interruption's.
  t.deepEqual(judge(intent, report({ payouts: [{ ...known(4, true)[0]!, reason: 'in_doubt' }] }), 'finished'), { action: 'settle', paid: 4, end: 'unknown' });
  t.deepEqual(judge(intent, report({}), 'finished'), { action: 'reissue' });
  t.deepEqual(judge(intent, report({ inventory: null }), 'finished'), { action: 'settle', paid: 0, end: 'unknown' });
  // No inventory, but records it vouches for (ccTalk): a payout it does not know never reached it.
  t.deepEqual(judge(intent, report({ inventory: null, recordsIntact: true }), 'finished'), { action: 'reissue' });
  t.deepEqual(judge(intent, report({ inventory: null, recordsIntact: true, payouts: known(4, true) }), 'finished'), { action: 'settle', paid: 4, end: 'interrupted' });
  // The payout's command not yet done by the hardware app: a report without it proves nothing.
  t.deepEqual(judge(intent, report({ inventory: null }), 'queued'), { action: 'wait' });
  t.deepEqual(judge(intent, report({}), 'queued'), { action: 'wait' });
  t.deepEqual(judge(intent, report({ payouts: known(4, true) }), 'queued'), { action: 'settle', paid: 4, end: 'interrupted' });
  // Its command never added: it never reached the hardware, which may pay it even without its count.
  t.deepEqual(judge(intent, report({ inventory: null }), 'never-added'), { action: 'reissue' });
  // A hardware that reports more than asked never makes the books count more.
  t.deepEqual(judge(intent, report({ payouts: known(12, true) }), 'finished'), { action: 'settle', paid: 10, end: 'complete' });
});

test('endOf and isStuck', (t) => {
  t.is(endOf('complete', 0), 'complete');
  t.is(endOf('hopper_empty', 3), 'short');
  t.is(endOf('jam', 3), 'short');
  t.is(endOf('unknown', 3), 'interrupted');
  const p = { stuckAfterMs: 1_000, msPerCoin: 100, reportTimeoutMs: 500 };
  t.false(isStuck(intent, 0, 1_000 + 2_000, p));
  t.true(isStuck(intent, 0, 1_000 + 2_001, p));
  t.false(isStuck(intent, 2_500, 1_000 + 2_001, p), 'progress news resets the clock');
});

test('error data: security block for 11/12/22/43, recovery block for auto-recoverable codes', (t) => {
  const e43 = errorData(43, 'raised', { a: 1 }, true);
  t.deepEqual(e43.security, { suspected_attack: true, auto_locked: false });
  t.false('recovery' in e43);
  const e44 = errorData(44, 'cleared', {}, true);
  t.deepEqual(e44.recovery, { automatic: true, condition: '硬幣補充至低水位以上', recovered: true });
  t.false('security' in e44);
  t.like(errorData(1, 'raised', {}, false), { severity: 'critical', impact: { service_available: false, estimated_downtime: 'unknown' }, affected_functions: ['exchange', 'coin_dispense', 'coin_accept', 'bill_accept'] });
  t.throws(() => errorData(3, 'raised', {}, true));
});

test('transaction data: a short exchange owes its unpaid coins; a remote dispense keeps the balance', (t) => {
  const txn: OpenTransaction = {
    txnId: 'TXN_20250912_103000_001', type: 'exchange', amount: 1000, bills: 1000, coinsIn: 0, base: 100, bonus: 5, due: 105, paid: 0,
    balanceBefore: 200, balanceAfter: 1200, startAt: 1_757_644_200_000, payoutId: 'po', commandId: '', operator: null, reason: null,
  };
  const d = transactionData(txn, { paid: 30, doneAt: 1_757_644_201_500, balance: 1200 }, 'unix');
  t.true(transactionDataSchema.safeParse(d).success);
  t.like(d, { success: false, debt_coins: 75, balance: { before: 200, after: 1200 }, timing: { start_time: 1_757_644_200, dispense_time: 1_757_644_201, duration_ms: 1_500 } });
  const remote = transactionData({ ...txn, txnId: 'REMOTE_20250912_103000_001', type: 'remote_dispense', amount: 0, bills: 0, due: 20, bonus: 0, commandId: 'CMD_1', operator: 'op' }, { paid: 20, doneAt: 1_757_644_201_500, balance: 1200 }, 'iso8601');
  t.true(transactionDataSchema.safeParse(remote).success);
  t.like(remote, { success: true, command_id: 'CMD_1', balance: { before: 1200, after: 1200 }, amounts: { transaction_amount: 0, coins_dispensed: 20 }, timing: { start_time: '2025-09-12T02:30:00.000Z' } });
  t.false('debt_coins' in remote);
});
