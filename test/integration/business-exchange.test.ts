/**
 * The guide's four exchanges against the real simulator: 100 bill, 50 coin,
 * 500 and 1000 bills pay 10, 5, 50 and 100 coins; the exact transaction and
 * accounting payloads; the journal keeps the original envelopes; the books
 * agree with the simulator's physical truth.
 */
import test from 'ava';
import { localDay } from '../../shared/clock.js';
import { accountingDataSchema, transactionDataSchema } from '../../shared/messages.js';
import { readJournalEntries } from '../../shared/journal.js';
import { startBusinessRig, dataOf } from '../helpers/business-rig.js';

test('four exchanges pay 10, 5, 50 and 100 coins with exact transaction and accounting messages', async (t) => {
  const rig = await startBusinessRig({ env: { COINEREX_SEQ: '1' } });
  t.teardown(() => rig.close());
  const steps = [
    { action: 'bill', amount: 100, coins: 10, bills: 100, coinsIn: 0 },
    { action: 'coin', amount: 50, coins: 5, bills: 0, coinsIn: 50 },
    { action: 'bill', amount: 500, coins: 50, bills: 500, coinsIn: 0 },
    { action: 'bill', amount: 1000, coins: 100, bills: 1000, coinsIn: 0 },
  ] as const;
  let balance = 0;
  const totals = { total_bills: 0, total_coins: 0, total_dispensed: 0 };
  for (const [i, s] of steps.entries()) {
    t.is(await rig.act(s.action === 'bill' ? { action: 'bill', amount: s.amount } : { action: 'coin', amount: 50 }), 'accepted');
    const [txn] = (await rig.waitMessages((m) => m.message_type === 'transaction', i + 1)).slice(i);
    const d = dataOf(txn!);
    t.true(transactionDataSchema.safeParse(d).success);
    t.regex(d.transaction_id, new RegExp(`^TXN_${localDay(Date.now(), 'Asia/Taipei')}_\\d{6}_00${i + 1}$`));
    t.deepEqual(d.amounts, { bills_inserted: s.bills, coins_inserted: s.coinsIn, coins_dispensed: s.coins, transaction_amount: s.amount, coin_value: 10 });
    t.deepEqual(d.balance, { before: balance, after: balance + s.amount });
    t.is(d.success, true);
    t.false('debt_coins' in d);
    t.is(d.transaction_type, 'exchange');
    t.true(d.timing.duration_ms >= 0);
    balance += s.amount;
    totals.total_bills += s.bills;
    totals.total_coins += s.coinsIn;
    totals.total_dispensed += s.coins;
    // The accounting that follows the transaction shows the counters right after it.
    const all = rig.messages;
    const acc = await rig.waitMessages((m) => m.message_type === 'accounting' && all.indexOf(m) > all.indexOf(txn!), 1);
    const a = dataOf(acc[0]!);
    t.true(accountingDataSchema.safeParse(a).success);
    t.deepEqual(a, {
      machine_status: 1,
      status_description: '待機',
      counters: { ...totals, remote_dispensed: 0, bonus_coins: 0 },
      current_state: { debt_coins: 0, balance },
      codes: { alarm_code: 0, error_code: 0 },
    });
  }
  await rig.settle();
  // Envelope: device id, version, seq rising by one per ACK-required message.
  const tracked = rig.messages.filter((m) => m.message_type === 'transaction' || m.message_type === 'accounting');
  for (const m of tracked) t.is(m.device_id, rig.t.deviceId);
  const seqs = tracked.map((m) => m.seq!);
  t.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  t.is(new Set(seqs).size, seqs.length);

  // Journal: every transaction with its original envelope (same message_id and seq).
  const journal = await readJournalEntries(rig.redis, rig.t.keys, { since: null, until: null, limit: 100 });
  t.deepEqual(
    journal.map((e) => e.envelope),
    rig.of('transaction'),
  );

  // Books against physical truth (docs/architecture.md#invariant-4).
  const truth = await rig.truth();
  const snap = await rig.snapshot();
  t.is(snap.counters.total_bills, truth.billsNtd);
  t.is(snap.counters.total_coins, truth.coinsNtd);
  t.is(snap.counters.total_dispensed, truth.dispensed);
  t.is(snap.inventory, truth.inventory);
  t.is(snap.today.exchanges, 4);
  t.is(snap.today.coins_dispensed, 165);
});

test('a bonus from the bonus table is paid and counted', async (t) => {
  const rig = await startBusinessRig({ env: { COINEREX_BONUS_TABLE: '{"1000":5}' } });
  t.teardown(() => rig.close());
  await rig.act({ action: 'bill', amount: 1000 });
  const [txn] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.is(dataOf(txn!).amounts.coins_dispensed, 105);
  await rig.settle();
  const snap = await rig.snapshot();
  t.is(snap.counters.bonus_coins, 5);
  t.is(snap.counters.total_dispensed, (await rig.truth()).dispensed);
});
