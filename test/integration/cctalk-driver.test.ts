/**
 * The ccTalk driver against the emulator over a real pty, with its state in
 * the real Redis (docs/cctalk.md): escrow, a hopper power cut mid-payout, a
 * cable pulled and plugged back, lost events, restarts, the CRC variant.
 */
import test from 'ava';
import { waitFor } from '../helpers/env.js';
import { H, HOPPER_FLAG } from '../../shared/cctalk/headers.js';
import { cctalkRig, WAIT_MS } from '../helpers/cctalk-harness.js';

const credits = (rig: Awaited<ReturnType<typeof cctalkRig>>) =>
  rig.events.filter((e) => e.kind === 'bill_accepted' || e.kind === 'coin_accepted').map((e) => ('amount' in e ? e.amount : 0));

test.serial('a bill is credited only once stacked; with the hopper gone it is handed back from escrow', async (t) => {
  const rig = await cctalkRig();
  t.teardown(() => rig.dispose());
  rig.control('bill 500');
  await rig.next('bill_accepted');
  t.deepEqual(rig.emulator.bill.stacked, [500]);

  rig.control('unplug hopper');
  await rig.next('fault_raised', (e) => e.code === 41);
  rig.control('bill 1000');
  await waitFor(() => rig.emulator.bill.events.entries[0]?.join() === '0,1', WAIT_MS, 'the bill handed back from escrow');
  t.deepEqual(rig.emulator.bill.stacked, [500], 'the 1000 never reached the stacker');
  t.deepEqual(credits(rig), [500]);

  rig.control('plug hopper');
  await rig.next('fault_cleared', (e) => e.code === 41);
  rig.control('bill 1000');
  await waitFor(() => credits(rig).length === 2, WAIT_MS, 'the second 1000');
  t.deepEqual(credits(rig), [500, 1000]);
});

test.serial('a hopper power cut mid-payout: the remainder is paid exactly once', async (t) => {
  const rig = await cctalkRig({ emulator: { coinMs: 15, inventory: 100 } });
  t.teardown(() => rig.dispose());
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-cut', coins: 30 });
  await waitFor(() => rig.emulator.hopper.paid >= 6, WAIT_MS, 'six coins out');
  const cut = rig.control('powercut');
  t.true((cut.paid as number) < 30);
  await rig.next('fault_raised', (e) => e.code === 41);
  rig.control('plug hopper');
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-cut');
  t.like(done, { requested: 30, paid: 30, unpaid: 0, reason: 'complete' });
  t.is(rig.emulator.hopper.dispensed, 30, 'thirty coins left the hopper, not more');
  t.true(rig.of('fault_cleared', (e) => e.code === 41).length >= 1);
});

test.serial('a payout that reaches the driver while the hopper is not answering waits for it and is paid once when it answers', async (t) => {
  // The window between a bill stacked and its payout command: the hopper loses power in it.
  const rig = await cctalkRig({ emulator: { coinMs: 5, inventory: 100 } });
  t.teardown(() => rig.dispose());
  rig.control('powercut');
  await rig.next('fault_raised', (e) => e.code === 41);
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-gone', coins: 12 });
  rig.control('plug hopper');
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-gone');
  t.like(done, { requested: 12, paid: 12, unpaid: 0, reason: 'complete' });
  t.is(rig.emulator.hopper.dispensed, 12, 'twelve coins left the hopper, not more');
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-gone', coins: 12 });
  await rig.next('payout_done', (e) => e.payoutId === 'P-gone' && e !== done);
  t.is(rig.emulator.hopper.dispensed, 12, 'a repeat of the command pays nothing');
  await rig.driver.execute({ kind: 'report_status', requestId: 'R-gone' });
  t.like(await rig.next('status_report', (e) => e.requestId === 'R-gone'), { inventory: null, recordsIntact: true, payouts: [{ payoutId: 'P-gone', requested: 12, paid: 12, done: true }] });
});

test.serial('a power cut that swallows the dispense (167 unanswered): counts no outcome of it can leave prove it never arrived; sent again, paid once', async (t) => {
  const rig = await cctalkRig({ emulator: { coinMs: 5, inventory: 100 } });
  t.teardown(() => rig.dispose());
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-before', coins: 5 });
  await rig.next('payout_done', (e) => e.payoutId === 'P-before');
  // The hopper loses power as the 167 reaches it: the dispense is lost with it, its counts still say 5 paid, 0 unpaid.
  const hopper = rig.emulator.hopper;
  const handle = hopper.handle.bind(hopper);
  let armed = true;
  hopper.handle = (header, data) => {
    if (armed && header === H.dispenseHopperCoins) {
      armed = false;
      hopper.powerCut();
    }
    return handle(header, data);
  };
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-swallowed', coins: 12 });
  await rig.next('fault_raised', (e) => e.code === 41);
  t.false(armed, 'the cut struck the dispense');
  rig.control('plug hopper');
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-swallowed');
  t.like(done, { requested: 12, paid: 12, unpaid: 0, reason: 'complete' });
  t.is(rig.emulator.hopper.dispensed, 5 + 12, 'twelve coins for it, once');
});

test.serial("a power cut that takes the hopper's counts with it ends the payout in doubt with what is known: never paid again by the driver", async (t) => {
  const rig = await cctalkRig({ emulator: { coinMs: 15, inventory: 100 } });
  t.teardown(() => rig.dispose());
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-forget', coins: 30 });
  await waitFor(() => rig.emulator.hopper.paid >= 6, WAIT_MS, 'six coins out');
  rig.control('powercut forget');
  const out = rig.emulator.hopper.dispensed;
  await rig.next('fault_raised', (e) => e.code === 41);
  rig.control('plug hopper');
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-forget');
  t.like(done, { requested: 30, paid: 0, unpaid: 30, reason: 'in_doubt' });
  // The hopper works again: its 41 (no answer) is cleared, and the doubt is the business app's 51, not a hopper fault.
  await rig.next('fault_cleared', (e) => e.code === 41);
  t.deepEqual(rig.of('fault_raised').map((e) => e.code), [41]);
  await rig.driver.execute({ kind: 'report_status', requestId: 'R-forget' });
  t.like(await rig.next('status_report', (e) => e.requestId === 'R-forget'), { payouts: [{ payoutId: 'P-forget', paid: 0, done: true, reason: 'in_doubt' }] });
  t.is(rig.emulator.hopper.dispensed, out, 'no coin left after the power cut');
});

test.serial('agent and hopper both down mid-payout: a new driver settles from the hopper counts, never by a blind resend', async (t) => {
  const rig = await cctalkRig({ emulator: { coinMs: 15, inventory: 100 } });
  t.teardown(() => rig.dispose());
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-both', coins: 20 });
  await waitFor(() => rig.emulator.hopper.paid >= 4, WAIT_MS, 'four coins out');
  await rig.driver.close();
  rig.control('powercut');
  rig.control('plug hopper');
  const driver = rig.newDriver();
  await driver.start();
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-both');
  t.like(done, { requested: 20, paid: 20, reason: 'complete' });
  t.is(rig.emulator.hopper.dispensed, 20);
});

test.serial('a lost dispense ACK is told apart from a lost dispense: paid once either way', async (t) => {
  const rig = await cctalkRig({ emulator: { coinMs: 2 } });
  t.teardown(() => rig.dispose());
  // The reply to 164 is fine; the hopper's ACK to 167 is spoiled: the hopper took it, the driver does not know.
  const original = rig.emulator.hopper.handle.bind(rig.emulator.hopper);
  let spoiled = false;
  rig.emulator.hopper.handle = (header, data) => {
    const reply = original(header, data);
    if (header === 167 && !spoiled) {
      spoiled = true;
      rig.emulator.bus.spoil('garbage');
    }
    return reply;
  };
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-ack', coins: 9 });
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-ack');
  t.true(spoiled);
  t.like(done, { paid: 9, reason: 'complete' });
  t.is(rig.emulator.hopper.dispensed, 9);
});

test.serial('a reply the driver stopped waiting for is not the ACK of the next request: no coins booked that never left', async (t) => {
  // Hopper only: every reply on the bus is the hopper's. Seen in a chaos run under load: the ACK of
  // an enable (164) read late was taken for the ACK of the dispense (167) the hopper refused, and the
  // last payout's paid count was booked a second time.
  const rig = await cctalkRig({ emulator: { coinMs: 2 }, env: { COINEREX_CCTALK_COIN_ADDRESS: '0', COINEREX_CCTALK_BILL_ADDRESS: '0' } });
  t.teardown(() => rig.dispose());
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-first', coins: 5 });
  t.like(await rig.next('payout_done', (e) => e.payoutId === 'P-first'), { paid: 5, reason: 'complete' });
  // The exit is blocked again: the hopper refuses the next dispense (NAK), its last-payout counts stay 5 paid.
  rig.emulator.hopper.flags = HOPPER_FLAG.optoBlockedPayout;
  const original = rig.emulator.hopper.handle.bind(rig.emulator.hopper);
  let lagged = false;
  rig.emulator.hopper.handle = (header, data) => {
    const reply = original(header, data);
    if (header === H.enableHopper && !lagged) {
      lagged = true;
      // The 164's reply and its retry's reply each come only ahead of the next request's echo.
      rig.emulator.bus.spoil('lag', 2);
    }
    return reply;
  };
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-refused', coins: 3 });
  const done = await rig.next('payout_done', (e) => e.payoutId === 'P-refused');
  t.true(lagged);
  t.is(rig.emulator.hopper.dispensed, 5);
  t.like(done, { paid: 0, unpaid: 3 });
  t.true((rig.driver.counters().dropped.stale ?? 0) >= 1, 'the lagging replies were dropped as stale');
});

test.serial('a jam ends the payout with 41, cleared once the hopper flags clear', async (t) => {
  const rig = await cctalkRig({ emulator: { coinMs: 2 } });
  t.teardown(() => rig.dispose());
  rig.control('jam 3');
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-jam', coins: 8 });
  t.like(await rig.next('payout_done', (e) => e.payoutId === 'P-jam'), { paid: 3, unpaid: 5, reason: 'jam' });
  t.like(await rig.next('fault_raised', (e) => e.code === 41), { context: { reason: 'jam' } });
  rig.control('unjam');
  await rig.next('fault_cleared', (e) => e.code === 41);
});

test.serial('the cable pulled and plugged back: link down/up, and coins dropped meanwhile are credited once', async (t) => {
  const rig = await cctalkRig();
  t.teardown(() => rig.dispose());
  await rig.next('link', (e) => e.up);
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'the first coin');
  await rig.unplug();
  await rig.next('link', (e) => !e.up);
  rig.control('coin 50');
  rig.control('coin 50');
  await rig.plug();
  await waitFor(() => rig.of('link', (e) => e.up).length === 2, WAIT_MS, 'the link up again');
  await waitFor(() => credits(rig).length === 3, WAIT_MS, 'the coins dropped while unplugged');
  t.deepEqual(credits(rig), [50, 50, 50]);
});

test.serial('a counter jump of more than 5 raises the lost-events fault (12) with the count', async (t) => {
  const rig = await cctalkRig();
  t.teardown(() => rig.dispose());
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'the first coin');
  rig.control('jump 9');
  const fault = await rig.next('fault_raised', (e) => e.code === 12);
  t.like(fault, { context: { reason: 'events lost', lost: 4 } });
  t.deepEqual(credits(rig), [50], 'the jump credits nothing');
});

test.serial('a reset device raises its code, is set up again and cleared; its counter restarts without double credits', async (t) => {
  const rig = await cctalkRig();
  t.teardown(() => rig.dispose());
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'the first coin');
  rig.control('reset coin');
  await rig.next('fault_raised', (e) => e.code === 13);
  await rig.next('fault_cleared', (e) => e.code === 13);
  await waitFor(() => rig.emulator.coin.accepting, WAIT_MS, 'the acceptor enabled again');
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 2, WAIT_MS, 'the coin after the reset');
  t.deepEqual(credits(rig), [50, 50]);
});

test.serial('events recorded across a driver restart are delivered once, none lost', async (t) => {
  const rig = await cctalkRig();
  t.teardown(() => rig.dispose());
  rig.control('coin 50');
  rig.control('bill 100');
  await waitFor(() => credits(rig).length === 2, WAIT_MS, 'two credits');
  await rig.driver.close();
  // Dropped in while the agent is down: the devices buffer them.
  rig.control('coin 50');
  rig.control('coin 50');
  const d = rig.newDriver();
  await d.start();
  await waitFor(() => credits(rig).length === 4, WAIT_MS, 'the coins dropped while the agent was down');
  t.deepEqual(credits(rig).sort(), [100, 50, 50, 50]);
  t.is(new Set(rig.events.map((e) => e.eventId)).size, rig.events.length, 'no event delivered twice');
});

test.serial('a sink that fails keeps the event pending; it comes again with the same id', async (t) => {
  let fail = true;
  const rig = await cctalkRig({ sink: (e) => {
    if (fail && e.kind === 'coin_accepted') throw new Error('business down');
  }, driver: { pending: { retryMs: 20, maxRetryMs: 50 } } });
  t.teardown(() => rig.dispose());
  rig.control('coin 50');
  await waitFor(() => rig.emulator.bus.counters.requests > 30, WAIT_MS, 'some polls');
  t.deepEqual(credits(rig), []);
  fail = false;
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'the coin once the sink works');
});

test.serial('CRC-16 bill validator and ITA-serial dispense: the same exchange works', async (t) => {
  const rig = await cctalkRig({ env: { COINEREX_CCTALK_BILL_CHECKSUM: 'crc16', COINEREX_CCTALK_HOPPER_DISPENSE: 'serial' } });
  t.teardown(() => rig.dispose());
  rig.control('bill 1000');
  await rig.next('bill_accepted');
  await rig.driver.execute({ kind: 'payout', payoutId: 'P-crc', coins: 5 });
  t.like(await rig.next('payout_done', (e) => e.payoutId === 'P-crc'), { paid: 5, reason: 'complete' });
  t.is(rig.emulator.hopper.dispensed, 5);
});

test.serial('values the agent cannot credit, and values the business app inhibits, are refused at the slot', async (t) => {
  // The agent is told coin type 3 (the emulator's 10) is worth 20 NTD: no such coin, so it cannot credit it.
  const rig = await cctalkRig({ env: { COINEREX_CCTALK_COIN_VALUES: '1,5,20,50' } });
  t.teardown(() => rig.dispose());
  t.like(rig.control('coin 10'), { outcome: 'rejected' });
  t.like(rig.control('coin 50'), { outcome: 'accepted' });
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'the 50');
  // The business app's set_acceptors inhibits 200 (not in the accepted set, or beyond what the hopper covers).
  await rig.driver.execute({ kind: 'set_acceptors', enabled: true, inhibit: [200] });
  t.like(rig.control('bill 200'), { outcome: 'rejected' });
  t.like(rig.control('bill 100'), { outcome: 'escrow' });
  await waitFor(() => credits(rig).length === 2, WAIT_MS, 'the 100');
  await rig.driver.execute({ kind: 'set_acceptors', enabled: true, inhibit: [] });
  t.like(rig.control('bill 200'), { outcome: 'escrow' });
  await waitFor(() => credits(rig).length === 3, WAIT_MS, 'the 200');
  t.deepEqual(credits(rig), [50, 100, 200]);
  // An acceptor that ignores its inhibits: the coin is in the cash box, so it is recorded as fault 7, not dropped.
  rig.emulator.coin.mask = 0xffff;
  t.like(rig.control('coin 10'), { outcome: 'accepted' });
  t.like(await rig.next('fault_raised', (e) => e.code === 7), { context: { reason: 'not creditable', type: 3, amount: 20 } });
  t.deepEqual(credits(rig), [50, 100, 200]);
});

test.serial('coinerex doctor lists every device on the bus with category, product code and serial number', async (t) => {
  const rig = await cctalkRig({ start: false, env: { COINEREX_CCTALK_BILL_CHECKSUM: 'crc16' } });
  t.teardown(() => rig.dispose());
  const { realProbes } = await import('../../cli/doctor/probes.js');
  const found = await realProbes.cctalk({ ...rig.env.config, cctalkPath: rig.pty.agentPath });
  t.deepEqual(
    found.map((d) => [d.role, d.address, d.answered, d.category, d.product, d.serial]),
    [
      ['coin', 2, true, 'Coin Acceptor', 'CRX-COIN', 0x0a0b0c],
      ['bill', 40, true, 'Bill Validator', 'CRX-BILL', 0x0d0e0f],
      ['hopper', 3, true, 'Payout', 'CRX-HOPPER', 0x4e4605],
    ],
  );
  rig.control('unplug hopper');
  const again = await realProbes.cctalk({ ...rig.env.config, cctalkPath: rig.pty.agentPath });
  t.like(again[2], { role: 'hopper', answered: false });
});

test.serial('a device reset while the cable is out: a coin taken right after it is set up again is credited', async (t) => {
  const rig = await cctalkRig();
  t.teardown(() => rig.dispose());
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'the first coin');
  await rig.unplug();
  // Power-up: counter 0, master inhibit on. One coin after set-up brings the counter back to 1, what the driver last read.
  rig.control('reset coin');
  await rig.plug();
  await waitFor(() => rig.emulator.coin.accepting, WAIT_MS, 'the acceptor set up again', 1);
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 2, WAIT_MS, 'the coin after the power-up');
  t.deepEqual(credits(rig), [50, 50]);
});

test.serial('set_acceptors never enables a device that is being set up again before its buffer was read', async (t) => {
  // Misses never make the device count as gone here: it stays up, waiting to be set up again.
  const rig = await cctalkRig({ driver: { missLimit: 1_000 } });
  t.teardown(() => rig.dispose());
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 1, WAIT_MS, 'a first coin (a counter of 0 then means a reset)');
  // The coin acceptor resets and then fails its set-up (no answer to 245) while still answering everything else.
  const coin = rig.emulator.coin;
  const handle = coin.handle.bind(coin);
  let setupBlocked = true;
  coin.handle = (header, data) => (setupBlocked && header === H.requestEquipmentCategory ? null : handle(header, data));
  rig.control('reset coin');
  await rig.next('fault_raised', (e) => e.code === 13);
  // The business app sends set_acceptors again in that window (a resend, or a change of inhibits).
  await rig.driver.execute({ kind: 'set_acceptors', enabled: true, inhibit: [] });
  t.false(coin.accepting, 'still master-inhibited: its buffer has not been read since the reset');
  t.like(rig.control('coin 50'), { outcome: 'rejected' }, 'a coin in that window is handed back, not hidden behind the reset counter');
  setupBlocked = false;
  await rig.next('fault_cleared', (e) => e.code === 13);
  await waitFor(() => coin.accepting, WAIT_MS, 'enabled once set up and read');
  rig.control('coin 50');
  await waitFor(() => credits(rig).length === 2, WAIT_MS, 'the coin after the set-up');
  t.deepEqual(credits(rig), [50, 50]);
});
