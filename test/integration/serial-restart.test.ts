/**
 * Cable pulled and board power cut in the middle of a payout (socat and the
 * emulator SIGKILLed), then both back: the driver reports the link down and
 * up by itself, no board event is lost or delivered twice, and the payout's
 * end and the status tell exactly what was paid (docs/board-link.md §5–§7).
 */
import test from 'ava';
import { waitFor } from '../helpers/env.js';
import { serialRig, WAIT_MS } from '../helpers/serial-harness.js';

test.serial('a power cut mid-payout: link down, link up, every event once, and the paid count is the physical one', async (t) => {
  const r = await serialRig({ inventory: 200, coinMs: 30 });
  t.teardown(() => r.dispose());

  await r.board.command('bill 1000');
  await r.driver.execute({ kind: 'payout', payoutId: 'TXN_cut', coins: 100 });
  await r.next('payout_progress', (e) => e.payoutId === 'TXN_cut' && e.paid >= 5);

  // Pull the cable and cut the board's power at once.
  await Promise.all([r.board.kill('SIGKILL'), r.pty.kill('SIGKILL')]);
  await r.next('link', (e) => !e.up);
  t.false(r.driver.linkUp);
  // Money put in while the agent cannot hear it: kept by the board.
  await r.pty.start();
  const board = await r.restartBoard();
  await board.command('coin 50');

  await waitFor(() => r.of('link').length >= 3, WAIT_MS, 'the link to come back');
  t.deepEqual(
    r.of('link').map((e) => e.up),
    [true, false, true],
  );

  const done = await r.next('payout_done', (e) => e.payoutId === 'TXN_cut');
  const { state } = await board.state();
  t.like(done, { requested: 100, reason: 'unknown' });
  t.true(done.paid >= 5 && done.paid < 100, `paid ${done.paid}`);
  t.is(done.unpaid, 100 - done.paid);
  t.is(done.paid, state.totals.paidOut, 'the reported count is what physically left the hopper');

  const status = await r.driver.status();
  t.deepEqual(status.payouts.find((p) => p.payoutId === 'TXN_cut'), {
    payoutId: 'TXN_cut',
    state: 'done',
    requested: 100,
    paid: done.paid,
    reason: 'unknown',
  });

  // Every board event exactly once: the board assigned ids 1..eventCounter and holds none un-ACKed.
  await r.next('coin_accepted');
  await waitFor(async () => (await board.state()).state.pending.length === 0, WAIT_MS, 'all events ACKed');
  const fromBoard = r.events.filter((e) => e.kind !== 'link' && e.kind !== 'status_report');
  const { state: final } = await board.state();
  t.is(fromBoard.length, final.eventCounter, 'as many deliveries as events the board made');
  t.is(new Set(fromBoard.map((e) => e.eventId)).size, fromBoard.length, 'no event id twice');
  t.is(r.of('bill_accepted').length, 1);
  t.is(r.of('coin_accepted').length, 1);
  t.is(r.of('payout_done').length, 1);
});

test.serial('an ACK lost in a board reset: the board sends the event again, the agent does not deliver it twice', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const r = await serialRig({ sink: async (e) => (e.kind === 'bill_accepted' && calls++ === 0 ? gate : undefined) });
  t.teardown(() => r.dispose());

  await r.board.command('bill 500');
  await waitFor(() => calls === 1, WAIT_MS, 'the bill to reach the sink');
  // The board resets (socat stays: only pings reveal it) while the sink is still busy; its ACK goes nowhere.
  await r.board.kill('SIGKILL');
  release();
  await r.next('link', (e) => !e.up);
  const board = await r.restartBoard();
  await waitFor(async () => (await board.state()).state.pending.length === 0, WAIT_MS, 'the board to get its ACK');

  t.is(r.of('bill_accepted').length, 1, 'delivered once');
  t.is(calls, 1, 'the sink saw it once');
  t.true(r.driver.counters().duplicate_event >= 1, 'the resent copy was recognised');
  t.deepEqual(
    r.of('link').map((e) => e.up),
    [true, false, true],
  );
});
