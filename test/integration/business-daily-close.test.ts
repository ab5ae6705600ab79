/**
 * The daily close: a job scheduler at midnight Asia/Taipei on the business
 * queue, and — with the clock injected at 23:58 Taipei — the day's totals in
 * the `daily_close` accounting, at most once per day, with "today" starting
 * again from zero after local midnight.
 */
import test from 'ava';
import { Queue } from 'bullmq';
import { queueNames } from '../../queue/index.js';
import { accountingDataSchema } from '../../shared/messages.js';
import { DAILY_CLOSE_SCHEDULER } from '../../workers/business/accounting/daily-close.js';
import { startBusinessRig, dataOf } from '../helpers/business-rig.js';

/** A clock that runs at real speed from `startIso` and can jump. */
function clockFrom(startIso: string) {
  let offset = Date.parse(startIso) - Date.now();
  return {
    now: () => Date.now() + offset,
    jumpTo: (iso: string) => {
      offset = Date.parse(iso) - Date.now();
    },
  };
}

test('the daily close is scheduled at midnight Asia/Taipei for the day that ended', async (t) => {
  const rig = await startBusinessRig({ sim: false });
  t.teardown(() => rig.close());
  const queue = new Queue(queueNames.businessSchedule, { connection: rig.redis, prefix: rig.t.keys.bullPrefix });
  t.teardown(() => queue.close());
  const s = await queue.getJobScheduler(DAILY_CLOSE_SCHEDULER);
  t.is(s?.pattern, '0 0 0 * * *');
  t.is(s?.tz, 'Asia/Taipei');
  // Midnight in Taipei is 16:00 UTC, within the next day.
  const next = new Date(s!.next!);
  t.is(next.getUTCHours(), 16);
  t.is(next.getUTCMinutes(), 0);
  t.true(s!.next! > Date.now() && s!.next! - Date.now() <= 86_400_000);
  // The scheduler's job closes the day it was due for (prevMillis), even when it runs late.
  await queue.add(DAILY_CLOSE_SCHEDULER, {}, { prevMillis: Date.parse('2025-09-12T16:00:00.000Z') });
  const [close] = await rig.waitMessages((m) => m.message_type === 'accounting' && dataOf(m).report === 'daily_close', 1);
  t.is(dataOf(close!).daily.date, '2025-09-12');
});

test('closing the day at 23:59 Taipei reports that day’s totals once; today restarts at midnight', async (t) => {
  const clock = clockFrom('2025-09-12T15:58:00.000Z'); // 23:58 in Taipei
  const rig = await startBusinessRig({ clock });
  t.teardown(() => rig.close());
  await rig.act({ action: 'bill', amount: 500 });
  await rig.act({ action: 'coin', amount: 50 });
  await rig.act({ action: 'bill', amount: 100 });
  await rig.waitMessages((m) => m.message_type === 'transaction', 3);
  await rig.settle();
  const txIds = rig.of('transaction').map((m) => dataOf(m).transaction_id);
  t.true(txIds.every((id: string) => id.startsWith('TXN_20250912_2358')));

  const at2359 = Date.parse('2025-09-12T15:59:00.000Z');
  t.true(await rig.business.accounting.closeDay(at2359));
  t.false(await rig.business.accounting.closeDay(at2359), 'a re-run of the job commits nothing');
  await rig.business.machine.publishAccounting(); // drains the outbox hand-over
  const closes = await rig.waitMessages((m) => m.message_type === 'accounting' && dataOf(m).report === 'daily_close', 1);
  t.is(closes.length, 1);
  const d = dataOf(closes[0]!);
  t.true(accountingDataSchema.safeParse(d).success);
  t.deepEqual(d.daily, {
    date: '2025-09-12',
    exchanges: 3,
    transactions: 3,
    bills_ntd: 600,
    coins_ntd: 50,
    cash_in_ntd: 650,
    coins_dispensed: 65,
    remote_dispensed: 0,
    bonus_coins: 0,
    new_debt_coins: 0,
    errors: 0,
  });
  t.like(d, { counters: { total_bills: 600, total_coins: 50, total_dispensed: 65 }, current_state: { balance: 650, debt_coins: 0 } });

  // After local midnight a new day: today's statistics and the transaction sequence start again, the totals go on.
  clock.jumpTo('2025-09-12T16:00:05.000Z'); // 00:00:05 on the 13th in Taipei
  await rig.act({ action: 'bill', amount: 100 });
  const [next] = (await rig.waitMessages((m) => m.message_type === 'transaction', 4)).slice(3);
  t.regex(dataOf(next!).transaction_id, /^TXN_20250913_0000\d\d_001$/);
  await rig.settle();
  const snap = await rig.snapshot();
  t.like(snap.today, { exchanges: 1, bills: 100, coins: 0, coins_dispensed: 10 });
  t.like(snap.counters, { total_bills: 700, total_coins: 50, total_dispensed: 75 });
  t.true((await rig.redis.ttl(rig.t.keys.daily('20250912'))) > 35 * 86_400, 'daily keys are kept over 35 days');
});

test('the close at midnight covers the whole day, including the exchanges of 23:59:00–23:59:59', async (t) => {
  const clock = clockFrom('2025-09-12T15:59:30.000Z'); // 23:59:30 in Taipei
  const rig = await startBusinessRig({ clock });
  t.teardown(() => rig.close());
  await rig.act({ action: 'bill', amount: 100 });
  await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  await rig.settle();
  t.true(await rig.business.accounting.closeDay(Date.parse('2025-09-12T16:00:00.000Z')));
  await rig.business.machine.publishAccounting();
  const [close] = await rig.waitMessages((m) => m.message_type === 'accounting' && dataOf(m).report === 'daily_close', 1);
  t.like(dataOf(close!).daily, { date: '2025-09-12', exchanges: 1, bills_ntd: 100, coins_dispensed: 10 });
});
