/**
 * Cash the agent may not expect, against the real simulator (issue 10):
 * every NTD denomination is booked; what is below one 10 NTD coin is carried
 * as credit, never dropped; a denomination the configuration does not accept
 * or the hopper cannot cover is inhibited at the acceptor and said so in the
 * status, and one that still arrives is credited; an event the agent cannot
 * map is a fault with its cash in the books and the acceptors off until a
 * restart clears it; the acceptor state in the books is what the hardware
 * confirmed, and set_acceptors is sent again until it is.
 */
import test from 'ava';
import type { Envelope } from '../../shared/messages.js';
import { Worker } from 'bullmq';
import { queueNames, workerConnection } from '../../queue/index.js';
import { waitFor, watchUnchanged } from '../helpers/env.js';
import { startBusinessRig, dataOf, type BusinessRig } from '../helpers/business-rig.js';

const code = (type: 'error' | 'alarm', n: number, state: 'raised' | 'cleared') => (m: Envelope) =>
  m.message_type === type && dataOf(m)[`${type}_code`] === n && dataOf(m).state === state;

async function booksMatchTruth(t: any, rig: BusinessRig) {
  const truth = await rig.truth();
  const snap = await rig.snapshot();
  t.is(snap.counters.total_bills, truth.billsNtd, 'bills in');
  t.is(snap.counters.total_coins, truth.coinsNtd, 'coins in');
  t.is(snap.counters.total_dispensed, truth.dispensed, 'coins out');
}

test('1 and 5 NTD coins (inhibited by default, taken anyway) are carried as credit and paid with the next insert; 200 and 2000 NTD bills pay', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.settle();
  await waitFor(async () => (await rig.truth()).inhibit.join(',') === '1,5', 5000, 'the default inhibit confirmed');
  t.is(await rig.act({ action: 'coin', amount: 1 }), 'refused', 'inhibited by default');
  for (const amount of [1, 5] as const) t.is(await rig.act({ action: 'coin', amount, stray: true }), 'accepted');
  await rig.settle();
  let snap = await rig.snapshot();
  t.like(snap.counters, { total_coins: 6, credit_ntd: 6, balance: 6, total_dispensed: 0 });
  t.is(rig.of('transaction').length, 0, 'below one coin: no transaction yet');

  t.is(await rig.act({ action: 'coin', amount: 5, stray: true }), 'accepted');
  const [first] = await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  t.like(dataOf(first!).amounts, { bills_inserted: 0, coins_inserted: 10, coins_dispensed: 1, transaction_amount: 10 });
  for (const amount of [200, 2000] as const) t.is(await rig.act({ action: 'bill', amount }), 'accepted');
  const txns = await rig.waitMessages((m) => m.message_type === 'transaction', 3);
  t.deepEqual(txns.map((m) => dataOf(m).amounts.coins_dispensed), [1, 20, 200]);
  t.like(dataOf(txns[2]!).amounts, { bills_inserted: 2000, coins_inserted: 0, transaction_amount: 2000 });
  await rig.settle();
  snap = await rig.snapshot();
  t.like(snap.counters, { total_coins: 11, total_bills: 2200, credit_ntd: 1, balance: 2211, total_dispensed: 221 });
  await booksMatchTruth(t, rig);
});

test('only the configured denominations are taken; the rest are refused at the acceptor and reported as inhibited by config', async (t) => {
  const rig = await startBusinessRig({ env: { COINEREX_ACCEPTED_DENOMINATIONS: '100,500' } });
  t.teardown(() => rig.close());
  await rig.settle();
  await waitFor(async () => (await rig.truth()).inhibit.join(',') === '1,5,10,50,200,1000,2000', 5000, 'inhibit confirmed by the simulator');
  t.is(await rig.act({ action: 'bill', amount: 1000 }), 'refused');
  t.is(await rig.act({ action: 'coin', amount: 50 }), 'refused');
  t.is(await rig.act({ action: 'bill', amount: 500 }), 'accepted');
  // An acceptor that takes an inhibited note anyway: credited and paid, never dropped.
  t.is(await rig.act({ action: 'bill', amount: 1000, stray: true }), 'accepted');
  const txns = await rig.waitMessages((m) => m.message_type === 'transaction', 2);
  t.deepEqual(txns.map((m) => dataOf(m).amounts.coins_dispensed).sort((a, b) => a - b), [50, 100]);
  await rig.settle();
  t.deepEqual((await rig.snapshot()).inhibited.filter((i) => i.reason === 'config').map((i) => i.amount), [1, 5, 10, 50, 200, 1000, 2000]);
  await booksMatchTruth(t, rig);
});

test('a denomination the hopper cannot cover (plus the margin) is inhibited and the status says so; a refill lifts it', async (t) => {
  const rig = await startBusinessRig({ simInventory: 60, env: { COINEREX_PAYOUT_MARGIN_COINS: '5' } });
  t.teardown(() => rig.close());
  await rig.settle();
  // 60 coins: 500 NTD (50 + 5 ≤ 60) stays on; 1000 and 2000 NTD (100, 200 coins) cannot be paid.
  const inhibitedStatus = await rig.waitMessages((m) => m.message_type === 'status' && (dataOf(m).acceptors?.inhibited ?? []).some((i: any) => i.reason === 'coins'), 1);
  t.deepEqual(dataOf(inhibitedStatus[0]!).acceptors.inhibited, [
    { amount: 1, reason: 'config' },
    { amount: 5, reason: 'config' },
    { amount: 1000, reason: 'coins' },
    { amount: 2000, reason: 'coins' },
  ]);
  await waitFor(async () => (await rig.truth()).inhibit.join(',') === '1,5,1000,2000', 5000, 'inhibit confirmed');
  t.is(await rig.act({ action: 'bill', amount: 1000 }), 'refused', 'a 1000 NTD bill is handed back instead of becoming debt');
  t.is(await rig.act({ action: 'bill', amount: 500 }), 'accepted');
  await rig.waitMessages((m) => m.message_type === 'transaction', 1);
  await rig.settle();
  // 10 coins left: now 500 NTD is over too, 100 (10 + 5 > 10) as well.
  await waitFor(async () => (await rig.truth()).inhibit.join(',') === '1,5,100,200,500,1000,2000', 5000, 'inhibit follows the hopper');
  t.is((await rig.snapshot()).counters.debt_coins, 0);
  await rig.act({ action: 'refill', coins: 1000 });
  await waitFor(async () => (await rig.truth()).inhibit.join(',') === '1,5', 5000, 'refill lifts the cover inhibit');
  await rig.waitMessages((m) => m.message_type === 'status' && dataOf(m).acceptors?.inhibited.length === 2, 1);
  t.is(await rig.act({ action: 'bill', amount: 1000 }), 'accepted');
  await rig.waitMessages((m) => m.message_type === 'transaction', 2);
  await rig.settle();
  await booksMatchTruth(t, rig);
});

test('an unmappable cash event is a fault (8 for a bill), its cash in the books, the acceptors off until a restart clears it', async (t) => {
  let rig = await startBusinessRig();
  t.teardown(() => rig.close());
  await rig.settle();
  await rig.feed({ kind: 'unmapped', source: 'bill', amount: 300, detail: '{"kind":"bill","amount":300}', eventId: 'board-x-7', at: Date.now() });
  const [e8] = await rig.waitMessages(code('error', 8, 'raised'), 1);
  t.like(dataOf(e8!).context, { event: 'bill', amount: 300, event_id: 'board-x-7' });
  await waitFor(async () => !(await rig.truth()).acceptorsEnabled, 5000, 'acceptors off at the hardware');
  await rig.settle();
  t.is((await rig.snapshot()).counters.unmapped_ntd, 300);
  t.false((await rig.snapshot()).acceptorsEnabled, 'the books hold the confirmed state');
  t.is(await rig.act({ action: 'bill', amount: 100 }), 'refused');
  // The same event again (a re-delivery) counts nothing twice.
  await rig.feed({ kind: 'unmapped', source: 'bill', amount: 300, detail: '', eventId: 'board-x-7', at: Date.now() });
  await rig.settle();
  t.is((await rig.snapshot()).counters.unmapped_ntd, 300);

  await rig.stop();
  rig = await startBusinessRig({ reuse: rig.t });
  await rig.waitMessages(code('error', 8, 'cleared'), 1);
  await waitFor(async () => (await rig.truth()).acceptorsEnabled, 5000, 'acceptors on again');
  t.is((await rig.snapshot()).counters.unmapped_ntd, 300, 'the cash stays in the books');
});

test('the books keep what the hardware confirmed; set_acceptors is resent until it is confirmed, then no more', async (t) => {
  const rig = await startBusinessRig({ sim: false, env: { COINEREX_ACCEPTORS_RESEND_SECONDS: '1' } });
  // A hardware app that takes the commands but never confirms them (lost on the way, a crash before the confirmation).
  const connection = workerConnection(rig.t.config.redisUrl, 'test-lossy-hardware');
  connection.on('error', () => undefined);
  const lossy = new Worker(queueNames.hwCommands, async () => undefined, { connection, prefix: rig.t.keys.bullPrefix });
  lossy.on('error', () => undefined);
  t.teardown(async () => {
    await lossy.close();
    await connection.quit();
    await rig.close();
  });
  const at = Date.now();
  await rig.feed({ kind: 'door', open: true, eventId: 'door-1', at });
  const asked = () => rig.hwCommands('set_acceptors').then((c) => c.filter((x) => x.kind === 'set_acceptors' && !x.enabled).length);
  await waitFor(async () => (await asked()) >= 3, 10_000, 'off asked again and again while unconfirmed');
  t.not((await rig.redis.hget(rig.t.keys.machine, 'acceptorsEnabled')) ?? '', '0', 'not recorded as off before the hardware says so');
  await rig.feed({ kind: 'acceptors_set', enabled: false, inhibit: [1, 5], eventId: 'acc-1', at });
  await waitFor(async () => (await rig.snapshot()).acceptorsEnabled === false, 5000, 'confirmed off recorded');
  const { before, after } = await watchUnchanged(asked, 2500);
  t.is(after, before, 'no resend once confirmed');
});

test('while the hardware app is not taking commands, set_acceptors does not pile up in its queue', async (t) => {
  const rig = await startBusinessRig({ sim: false, env: { COINEREX_ACCEPTORS_RESEND_SECONDS: '1' } });
  t.teardown(() => rig.close());
  await rig.feed({ kind: 'door', open: true, eventId: 'door-1', at: Date.now() });
  await waitFor(async () => (await rig.hwCommands('set_acceptors')).some((c) => c.kind === 'set_acceptors' && !c.enabled), 5000, 'off asked');
  const count = async () => (await rig.hwCommands('set_acceptors')).length;
  const { before, after } = await watchUnchanged(count, 3000);
  t.is(after, before, 'no new set_acceptors while the last one still waits');
});
