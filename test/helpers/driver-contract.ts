/**
 * The hardware driver contract (workers/hardware/driver.ts): one suite that
 * every driver must pass, run against the simulator and against the serial
 * driver over a pty (docs/architecture.md#contract-suites). A fixture gives the suite a
 * fresh driver and the physical side of its machine.
 */
import type { TestFn, ExecutionContext } from 'ava';
import type { HwEvent } from '../../queue/jobs.js';
import { DriverError, type HardwareDriver } from '../../workers/hardware/driver.js';
import { waitFor } from './env.js';

export type Cash = 50 | 100 | 500 | 1000;

export interface DriverFixture {
  /** A driver not yet started; the suite registers its sink, starts and closes it. */
  driver: HardwareDriver;
  /** A customer inserts cash. Resolves once the machine has taken it or handed it back. */
  insertCash(amount: Cash): Promise<void>;
  /** Coins that physically left the hopper so far. */
  coinsDispensed(): Promise<number>;
  /** Removes whatever the fixture made (the driver is already closed). */
  dispose(): Promise<void>;
}

export interface FixtureOptions {
  /** Coins in the hopper at the start. */
  inventory: number;
}

export type MakeDriver = (opts: FixtureOptions) => Promise<DriverFixture>;

type EventOf<K extends HwEvent['kind']> = Extract<HwEvent, { kind: K }>;

/** Everything the driver reported, in order. */
class Recorder {
  readonly events: HwEvent[] = [];
  readonly sink = (e: HwEvent): void => {
    this.events.push(e);
  };

  of<K extends HwEvent['kind']>(kind: K, where: (e: EventOf<K>) => boolean = () => true): EventOf<K>[] {
    return this.events.filter((e): e is EventOf<K> => e.kind === kind && where(e as EventOf<K>));
  }

  /** The first event of `kind` matching `where`, waiting for it if need be. */
  next<K extends HwEvent['kind']>(kind: K, where: (e: EventOf<K>) => boolean = () => true): Promise<EventOf<K>> {
    return waitFor(() => this.of(kind, where)[0], TIMEOUT_MS, `a ${kind} event`);
  }
}

const TIMEOUT_MS = 10_000;
const accepted = (r: Recorder) => r.events.filter((e) => e.kind === 'bill_accepted' || e.kind === 'coin_accepted');

export function driverContract(test: TestFn, makeDriver: MakeDriver): void {
  const started = async (t: ExecutionContext, inventory = 100) => {
    const fixture = await makeDriver({ inventory });
    const rec = new Recorder();
    fixture.driver.onEvent(rec.sink);
    t.teardown(async () => {
      await fixture.driver.close();
      await fixture.dispose();
    });
    await fixture.driver.start();
    return { ...fixture, rec };
  };

  test('driver contract: every accepted bill and coin is reported once, with its own event id', async (t) => {
    const { insertCash, rec } = await started(t);
    const inserted: Cash[] = [100, 500, 1000, 50, 100];
    for (const amount of inserted) await insertCash(amount);
    await waitFor(() => accepted(rec).length >= inserted.length, TIMEOUT_MS, 'five accept events');
    const events = accepted(rec);
    t.deepEqual(
      events.map((e) => [e.kind, 'amount' in e ? e.amount : null]),
      inserted.map((a) => [a === 50 ? 'coin_accepted' : 'bill_accepted', a]),
    );
    t.is(new Set(events.map((e) => e.eventId)).size, inserted.length, 'event ids are unique');
    for (const e of events) {
      t.false(/^\d+$/.test(e.eventId) || e.eventId.includes(':'), `event id ${e.eventId} is usable as a job id`);
    }
  });

  test('driver contract: a payout pays the requested coins and ends with paid + unpaid = requested', async (t) => {
    const { driver, coinsDispensed, rec } = await started(t, 100);
    const before = await coinsDispensed();
    await driver.execute({ kind: 'payout', payoutId: 'P-full', coins: 7 });
    const done = await rec.next('payout_done', (e) => e.payoutId === 'P-full');
    t.like(done, { requested: 7, paid: 7, unpaid: 0, reason: 'complete' });
    t.is((await coinsDispensed()) - before, 7);
    for (const p of rec.of('payout_progress', (e) => e.payoutId === 'P-full')) t.true(p.paid <= 7 && p.requested === 7);
  });

  test('driver contract: a repeated payoutId never pays again, it re-reports', async (t) => {
    const { driver, coinsDispensed, rec } = await started(t, 100);
    const before = await coinsDispensed();
    // Twice at once (a re-run job), then again after the end with another count.
    await driver.execute({ kind: 'payout', payoutId: 'P-once', coins: 4 });
    await driver.execute({ kind: 'payout', payoutId: 'P-once', coins: 4 });
    const done = await rec.next('payout_done', (e) => e.payoutId === 'P-once');
    t.like(done, { paid: 4, unpaid: 0 });
    const reportsBefore = rec.events.filter((e) => 'payoutId' in e && e.payoutId === 'P-once').length;
    await driver.execute({ kind: 'payout', payoutId: 'P-once', coins: 9 });
    await waitFor(() => rec.events.filter((e) => 'payoutId' in e && e.payoutId === 'P-once').length > reportsBefore, TIMEOUT_MS, 'a re-report');
    for (const d of rec.of('payout_done', (e) => e.payoutId === 'P-once')) t.like(d, { requested: 4, paid: 4, unpaid: 0 });
    t.is((await coinsDispensed()) - before, 4, 'four coins left the hopper, not eight or seventeen');
  });

  test('driver contract: a hopper running empty mid-payout ends it with the unpaid count', async (t) => {
    const { driver, coinsDispensed, rec } = await started(t, 3);
    await driver.execute({ kind: 'payout', payoutId: 'P-empty', coins: 5 });
    const done = await rec.next('payout_done', (e) => e.payoutId === 'P-empty');
    t.like(done, { requested: 5, paid: 3, unpaid: 2, reason: 'hopper_empty' });
    await rec.next('hopper_empty');
    t.is(await coinsDispensed(), 3);
  });

  test('driver contract: a status report lists the payouts with what they paid', async (t) => {
    const { driver, rec } = await started(t, 100);
    await driver.execute({ kind: 'payout', payoutId: 'P-a', coins: 2 });
    await driver.execute({ kind: 'payout', payoutId: 'P-b', coins: 3 });
    await rec.next('payout_done', (e) => e.payoutId === 'P-b');
    await rec.next('payout_done', (e) => e.payoutId === 'P-a');
    await driver.execute({ kind: 'report_status', requestId: 'R-1' });
    const report = await rec.next('status_report', (e) => e.requestId === 'R-1');
    const byId = new Map(report.payouts.map((p) => [p.payoutId, p]));
    t.deepEqual(byId.get('P-a'), { payoutId: 'P-a', requested: 2, paid: 2, done: true, reason: 'complete' });
    t.deepEqual(byId.get('P-b'), { payoutId: 'P-b', requested: 3, paid: 3, done: true, reason: 'complete' });
    if (report.inventory !== null) t.is(report.inventory, 95);
    t.true(report.acceptorsEnabled);
  });

  test('driver contract: disabled acceptors hand cash back without an event', async (t) => {
    const { driver, insertCash, rec } = await started(t);
    await driver.execute({ kind: 'set_acceptors', enabled: false });
    await driver.execute({ kind: 'report_status', requestId: 'R-off' });
    t.false((await rec.next('status_report', (e) => e.requestId === 'R-off')).acceptorsEnabled);
    await insertCash(100);
    await insertCash(50);
    await driver.execute({ kind: 'set_acceptors', enabled: true });
    await insertCash(500);
    // The link is ordered: had the refused cash been reported, it would come first.
    await waitFor(() => accepted(rec).length >= 1, TIMEOUT_MS, 'the accepted bill');
    await driver.execute({ kind: 'report_status', requestId: 'R-on' });
    await rec.next('status_report', (e) => e.requestId === 'R-on');
    t.deepEqual(
      accepted(rec).map((e) => ('amount' in e ? e.amount : null)),
      [500],
    );
  });

  test('driver contract: close is idempotent and a closed driver refuses commands', async (t) => {
    const { driver } = await started(t);
    await driver.close();
    await t.notThrowsAsync(driver.close());
    const err = await t.throwsAsync(driver.execute({ kind: 'display', text: 'hello' }));
    t.true(err instanceof DriverError, 'a DriverError');
  });
}
