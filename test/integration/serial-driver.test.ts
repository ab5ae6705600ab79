/**
 * The serial driver against the board emulator through a real pty
 * (docs/board-link.md): money events with stable ids, payouts, status,
 * hostile input, a hung board, a failing sink and an agent restart.
 */
import test from 'ava';
import { DriverError } from '../../workers/hardware/driver.js';
import { FAKE_EVENT_ID, hostileKinds } from '../../tools/board-emulator/hostile.js';
import { waitFor } from '../helpers/env.js';
import { serialRig, WAIT_MS, type SerialRig } from '../helpers/serial-harness.js';

const rigs: SerialRig[] = [];
const rig = async (...args: Parameters<typeof serialRig>): Promise<SerialRig> => {
  const r = await serialRig(...args);
  rigs.push(r);
  return r;
};
test.after.always(async () => {
  await Promise.all(rigs.map((r) => r.dispose()));
});

/** Board events only (no link or status events). */
const boardEvents = (r: SerialRig) => r.events.filter((e) => e.kind !== 'link' && e.kind !== 'status_report');

test.serial('a bill and a coin arrive once each, with the board counter as their stable id', async (t) => {
  const r = await rig();
  t.truthy(r.of('link', (e) => e.up)[0], 'link up was reported on start');
  const { state } = await r.board.state();
  const before = Date.now();
  const bill = await r.board.command('bill 500');
  const coin = await r.board.command('coin 50');
  const b = await r.next('bill_accepted');
  const c = await r.next('coin_accepted');
  t.is(b.eventId, `board-${state.boardId}-${bill.eventId as number}`);
  t.is(c.eventId, `board-${state.boardId}-${coin.eventId as number}`);
  t.is(b.amount, 500);
  t.is(c.amount, 50);
  t.true(b.at >= before - 50 && b.at <= Date.now() + 50, 'stamped with the time it happened');
  await waitFor(async () => (await r.board.state()).state.pending.length === 0, WAIT_MS, 'the board to see both ACKed');
  t.is(boardEvents(r).length, 2);
});

test.serial('every NTD bill and coin is delivered and ACKed; a value that is not NTD is ACKed as unmapped and does not block the next', async (t) => {
  const r = await rig();
  for (const amount of [100, 200, 500, 1000, 2000]) t.like(await r.board.command(`bill ${amount}`), { accepted: true }, `bill ${amount}`);
  for (const amount of [1, 5, 10, 50]) t.like(await r.board.command(`coin ${amount}`), { accepted: true }, `coin ${amount}`);
  // An acceptor that stacks a 300 "bill" (a foreign note, a mis-set validator): the cash is in the box all the same.
  await r.board.command('stray bill 300');
  await r.board.command('coin 50');
  await waitFor(() => r.of('coin_accepted').length === 5, WAIT_MS, 'the coin after the unmapped bill');
  t.deepEqual(r.of('bill_accepted').map((e) => e.amount), [100, 200, 500, 1000, 2000]);
  t.deepEqual(r.of('coin_accepted').map((e) => e.amount), [1, 5, 10, 50, 50]);
  t.like(r.of('unmapped')[0], { source: 'bill', amount: 300 });
  await waitFor(async () => (await r.board.state()).state.pending.length === 0, WAIT_MS, 'the board to see every event ACKed');
});

test.serial('set_acceptors carries the inhibited denominations; the board refuses exactly those', async (t) => {
  const r = await rig();
  await r.driver.execute({ kind: 'set_acceptors', enabled: true, inhibit: [1, 5, 2000] });
  t.deepEqual((await r.board.state()).state.inhibit, [1, 5, 2000]);
  t.like(await r.board.command('bill 2000'), { accepted: false });
  t.like(await r.board.command('coin 5'), { accepted: false });
  t.like(await r.board.command('bill 1000'), { accepted: true });
  await r.driver.execute({ kind: 'set_acceptors', enabled: true });
  t.like(await r.board.command('bill 2000'), { accepted: true });
});

test.serial('a payout reports progress and ends paid in full; the coins left the hopper', async (t) => {
  const r = await rig({ inventory: 50, coinMs: 10 });
  await r.driver.execute({ kind: 'payout', payoutId: 'TXN_1', coins: 12 });
  const done = await r.next('payout_done', (e) => e.payoutId === 'TXN_1');
  t.like(done, { eventId: 'payout-done-TXN_1', requested: 12, paid: 12, unpaid: 0, reason: 'complete' });
  const progress = r.of('payout_progress', (e) => e.payoutId === 'TXN_1');
  t.true(progress.length >= 1, 'at least one progress report');
  t.true(progress.every((p, i) => p.requested === 12 && p.paid < 12 && (i === 0 || p.paid > progress[i - 1]!.paid)), 'progress only rises');
  const level = await r.next('hopper_level');
  t.is(level.coins, 38);
  const { state } = await r.board.state();
  t.is(state.totals.paidOut, 12);
  t.is(state.inventory, 38);
});

test.serial('a hopper running empty mid-payout ends it with the unpaid count', async (t) => {
  const r = await rig({ inventory: 3 });
  await r.driver.execute({ kind: 'payout', payoutId: 'TXN_empty', coins: 5 });
  const done = await r.next('payout_done', (e) => e.payoutId === 'TXN_empty');
  t.like(done, { requested: 5, paid: 3, unpaid: 2, reason: 'hopper_empty' });
  await r.next('hopper_empty');
  t.is((await r.board.state()).state.totals.paidOut, 3);
});

test.serial('status lists payouts with what they paid, an unfinished one included', async (t) => {
  const r = await rig({ inventory: 100, coinMs: 40 });
  await r.driver.execute({ kind: 'payout', payoutId: 'P-a', coins: 2 });
  await r.next('payout_done', (e) => e.payoutId === 'P-a');
  await r.driver.execute({ kind: 'payout', payoutId: 'P-b', coins: 50 });
  await r.next('payout_progress', (e) => e.payoutId === 'P-b' && e.paid >= 2);
  const status = await r.driver.status();
  const a = status.payouts.find((p) => p.payoutId === 'P-a');
  const b = status.payouts.find((p) => p.payoutId === 'P-b');
  t.deepEqual(a, { payoutId: 'P-a', state: 'done', requested: 2, paid: 2, reason: 'complete' });
  t.like(b, { state: 'paying', requested: 50 });
  t.true(b!.paid >= 2 && b!.paid < 50);
  t.is(status.payouts[0]!.payoutId, 'P-b', 'unfinished payouts come first');
  await r.driver.execute({ kind: 'report_status', requestId: 'R-1' });
  const report = await r.next('status_report', (e) => e.requestId === 'R-1');
  t.deepEqual(report.payouts.find((p) => p.payoutId === 'P-a'), { payoutId: 'P-a', requested: 2, paid: 2, done: true, reason: 'complete' });
  t.true(report.inventory !== null && report.inventory <= 100 - 2 - b!.paid, `inventory ${report.inventory}`);
  t.true(report.acceptorsEnabled);
});

test.serial('hostile frames are dropped and counted; the link stays up and real events still pass', async (t) => {
  const r = await rig();
  await r.board.command('bill 100');
  await r.next('bill_accepted');
  for (const kind of hostileKinds) await r.board.command(`hostile ${kind}`);
  await r.board.command('bill 1000');
  await r.next('bill_accepted', (e) => e.amount === 1000);
  await waitFor(() => r.driver.counters().duplicate_event >= 1, WAIT_MS, 'the replayed event to be seen');
  const c = r.driver.counters();
  t.like(c, { bad_crc: 1, oversized: 1, unknown_type: 1, bad_payload: 1, unknown_event: 1, duplicate_event: 1, linkDowns: 0 });
  // The truncated frame is cut by the STX of the next one; garbage is counted per byte.
  t.true(c.truncated >= 1, `truncated ${c.truncated}`);
  t.true(c.garbage >= 48, `garbage ${c.garbage}`);
  t.false(
    r.events.some((e) => e.eventId.endsWith(`-${FAKE_EVENT_ID}`)),
    'no fake event got through',
  );
  t.deepEqual(
    boardEvents(r).map((e) => e.kind),
    ['bill_accepted', 'bill_accepted'],
  );
  t.true(r.driver.linkUp);
});

test.serial('a hung board takes the link down; commands fail fast; it comes back by itself', async (t) => {
  const r = await rig();
  await r.board.command('mute on');
  await r.next('link', (e) => !e.up);
  t.false(r.driver.linkUp);
  const err = await t.throwsAsync(r.driver.execute({ kind: 'payout', payoutId: 'P-down', coins: 1 }));
  t.true(err instanceof DriverError && err.code === 'LINK_DOWN');
  await r.board.command('bill 100');
  await r.board.command('mute off');
  await waitFor(() => r.of('link').length >= 3, WAIT_MS, 'link up again');
  t.deepEqual(
    r.of('link').map((e) => e.up),
    [true, false, true],
  );
  // The bill inserted while the board was hung reaches the agent after the link is back.
  await r.next('bill_accepted');
  t.true(r.events.findIndex((e) => e.kind === 'bill_accepted') > r.events.lastIndexOf(r.of('link')[2]!));
  t.is((await r.board.state()).state.totals.paidOut, 0, 'the refused payout was never sent');
});

test.serial('an event whose sink fails is not ACKed and comes again with the same id, delivered once', async (t) => {
  let failures = 0;
  const r = await rig({
    sink: (e) => {
      if (e.kind === 'bill_accepted' && failures++ < 2) throw new Error('queue unavailable');
    },
  });
  const sent = await r.board.command('bill 100');
  const bill = await r.next('bill_accepted');
  t.is(failures, 3, 'two failed deliveries, then one that worked');
  t.true(bill.eventId.endsWith(`-${sent.eventId as number}`));
  await waitFor(async () => (await r.board.state()).state.pending.length === 0, WAIT_MS, 'the ACK');
  t.is(r.of('bill_accepted').length, 1);
});

test.serial('events of a time without agent are kept by the board and delivered to the next agent, once, in order', async (t) => {
  const r = await rig();
  await r.board.command('bill 100');
  await r.next('bill_accepted');
  await r.driver.close();
  for (const line of ['bill 500', 'coin 50', 'door open', 'bill 1000']) await r.board.command(line);
  t.is((await r.board.state()).state.pending.length, 4, 'the board holds four un-ACKed events');
  const driver = r.newDriver();
  await driver.start();
  await waitFor(() => boardEvents(r).length >= 5, WAIT_MS, 'five board events');
  await waitFor(async () => (await r.board.state()).state.pending.length === 0, WAIT_MS, 'all ACKed');
  t.deepEqual(
    boardEvents(r).map((e) => e.kind),
    ['bill_accepted', 'bill_accepted', 'coin_accepted', 'door', 'bill_accepted'],
  );
  t.is(new Set(boardEvents(r).map((e) => e.eventId)).size, 5);
});
