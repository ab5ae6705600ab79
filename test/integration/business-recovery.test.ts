/**
 * A payout whose end was never heard of is never re-sent blindly
 * (docs/architecture.md#invariant-2). The test plays the hardware: it records
 * `hw-commands` and answers `report_status` with the status report of its
 * choice, then checks what the engine decided.
 */
import test, { type ExecutionContext } from 'ava';
import { Queue, Worker, type Job } from 'bullmq';
import { workerConnection, queueNames, type HwCommand, type HwEvent } from '../../queue/index.js';
import { REDIS_URL, waitFor } from '../helpers/env.js';
import { startRig, dataOf } from './business-rig.js';

type Report = Omit<Extract<HwEvent, { kind: 'status_report' }>, 'eventId' | 'at' | 'requestId' | 'kind'>;

/** A hardware stand-in: records commands; answers report_status with `answer()` (none when it returns null). */
async function fakeHardware(prefix: string, answer: () => Report | null) {
  const commands: HwCommand[] = [];
  const connection = workerConnection(REDIS_URL);
  const workerConn = workerConnection(REDIS_URL);
  const events = new Queue<HwEvent>(queueNames.hwEvents, { connection, prefix });
  let n = 0;
  const worker = new Worker<HwCommand>(
    queueNames.hwCommands,
    async (job: Job<HwCommand>) => {
      commands.push(job.data);
      if (job.data.kind !== 'report_status') return;
      const r = answer();
      const eventId = `sr-${n++}-${job.data.requestId}`;
      if (r) await events.add('status_report', { kind: 'status_report', requestId: job.data.requestId, eventId, at: Date.now(), ...r }, { jobId: eventId });
    },
    { connection: workerConn, prefix, concurrency: 1 },
  );
  worker.on('error', () => undefined);
  return {
    commands,
    payouts: () => commands.filter((c): c is Extract<HwCommand, { kind: 'payout' }> => c.kind === 'payout'),
    close: async () => {
      await worker.close();
      await events.close();
      await connection.quit();
      await workerConn.quit();
    },
  };
}

/** A rig that asks the hardware about a payout after 300 ms without news, with the fake hardware answering. */
async function quickToAsk(t: ExecutionContext, answer: () => Report | null) {
  const rig = await startRig({ sim: false, stuck: { stuckAfterMs: 300, msPerCoin: 0, reportTimeoutMs: 1_000 } });
  const hw = await fakeHardware(rig.t.keys.bullPrefix, answer);
  t.teardown(async () => {
    await hw.close();
    await rig.close();
  });
  return { rig, hw };
}

const done = (payoutId: string, requested: number, paid: number, reason: 'complete' | 'hopper_empty' | 'unknown' = 'complete'): HwEvent => ({
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
  let rig = await startRig({ sim: false });
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
  rig = await startRig({ sim: false, reuse: rig.t });
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

  // A person checked and cleared 51: now the debt is paid.
  await rig.feed({ kind: 'fault_cleared', code: 51, eventId: 'clr-51', at: Date.now() });
  const debt = await waitFor(() => hw.payouts()[1], 5_000, 'debt payout');
  t.is(debt.coins, 10);
  await rig.feed(done(debt.payoutId, 10, 10));
  await waitFor(async () => (await rig.snapshot()).counters.debt_coins === 0, 5_000, 'debt paid');
  t.is((await rig.snapshot()).counters.total_dispensed, 10);
});
