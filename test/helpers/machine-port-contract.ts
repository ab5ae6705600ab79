/**
 * The MachinePort contract (workers/business/machine/machine-port.ts): one
 * suite run against the real machine (the business app over the simulator)
 * and against TestMachine, the fake the command tests use
 * (docs/architecture.md#contract-suites), so the fake cannot promise what the
 * machine does not keep.
 */
import type { ExecutionContext, TestFn } from 'ava';
import type { MachinePort } from '../../workers/business/machine/machine-port.js';

export interface MachinePortFixture {
  /** A machine at rest (nothing in progress, unlocked, no fault) with at least 100 coins. */
  port: MachinePort;
  /** Removes whatever the fixture made. */
  dispose(): Promise<void>;
}

export type MakeMachinePort = () => Promise<MachinePortFixture>;

const request = (commandId: string, coins: number) => ({ commandId, coins, operatorAccount: 'op', reason: 'contract', deadline: Date.now() + 60_000 });

/** Registers the suite; `name` prefixes each title, since one file runs it against several machines. */
export function machinePortContract(test: TestFn, name: string, make: MakeMachinePort): void {
  const fixture = async (t: ExecutionContext): Promise<MachinePort> => {
    const f = await make();
    t.teardown(() => f.dispose());
    return f.port;
  };

  test(`${name}: a snapshot at rest: unlocked, nothing owed, the hopper counted`, async (t) => {
    const port = await fixture(t);
    const s = await port.snapshot();
    t.false(s.locked);
    t.is(s.lockUntil, null);
    t.true(s.inventory >= 100);
    t.deepEqual(s.activeErrors, []);
  });

  test(`${name}: remote dispense pays once per command id, concurrent or later, and books it`, async (t) => {
    const port = await fixture(t);
    const before = (await port.snapshot()).inventory;
    t.false(await port.dispenseQueued('CONTRACT_1'));
    const [first, second] = await Promise.all([port.remoteDispense(request('CONTRACT_1', 3)), port.remoteDispense(request('CONTRACT_1', 3))]);
    t.deepEqual(second, first);
    t.like(first, { success: true, coinsDispensed: 3, coinsUnpaid: 0, coinsRemaining: before - 3 });
    t.regex(first.transactionId, /^REMOTE_/);
    t.deepEqual(await port.remoteDispense(request('CONTRACT_1', 3)), first, 'a later repeat pays nothing');
    t.true(await port.dispenseQueued('CONTRACT_1'));
    t.is((await port.snapshot()).inventory, before - 3);
  });

  test(`${name}: the lock is kept until unlocked, with its end time`, async (t) => {
    const port = await fixture(t);
    const until = Date.now() + 3_600_000;
    await port.setLock({ locked: true, reason: 'contract', operatorId: 'op', until, messageDisplay: null });
    t.like(await port.snapshot(), { locked: true, lockUntil: until });
    await port.setLock({ locked: false, reason: null, operatorId: 'op', until: null, messageDisplay: null });
    t.like(await port.snapshot(), { locked: false, lockUntil: null });
  });

  test(`${name}: at rest: whenIdle resolves at once, publishing and a journal window past now answer empty`, async (t) => {
    const port = await fixture(t);
    const started = Date.now();
    await port.whenIdle(30_000);
    t.true(Date.now() - started < 5_000);
    await port.publishStatus();
    await port.publishAccounting();
    t.deepEqual(await port.readJournal({ since: Date.now() + 3_600_000, until: null, limit: 10 }), []);
  });
}
