/**
 * The guide's exchange scenario over the real serial path: the `hardware`,
 * `business` and `mqtt` apps under PM2, the serial driver on one end of a
 * socat pty, the board emulator on the other, a cloud peer on the broker.
 * Then the cable is pulled and the board's power cut in the middle of a
 * payout, and both come back: the link fault is raised and cleared, PM2
 * never restarts the `hardware` app, and only the rest of the payout is paid
 * (docs/architecture.md#invariant-2 and docs/architecture.md#invariant-4; docs/board-link.md §6–§7).
 */
import test, { type ExecutionContext } from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { accountingDataSchema, transactionDataSchema } from '../../shared/messages.js';
import { metricField } from '../../shared/metrics.js';
import { startEmulator, type EmulatorOptions } from '../../tools/board-emulator/client.js';
import { cloudPeer, type CloudPeer, type Received } from '../helpers/cloud-peer.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';
import { startStack, type Pm2Stack } from '../helpers/pm2.js';
import { ptyPair } from '../helpers/pty.js';

const INVENTORY = 500;
/** Slow enough that a 100-coin payout (2.5 s) can be cut in its middle, fast enough for the four exchanges. */
const COIN_MS = 25;

/** The n-th (1-based) distinct message of `type`, and the first accounting that follows it. */
async function nthWithAccounting(cloud: CloudPeer, type: string, n: number): Promise<{ msg: Received; accounting: Received }> {
  const msg = await waitFor(() => cloud.unique(type)[n - 1], 20_000, `${type} #${n}`);
  const accounting = await waitFor(
    () => cloud.unique('accounting').find((a) => cloud.received.indexOf(a) > cloud.received.indexOf(msg)),
    10_000,
    `the accounting after ${type} #${n}`,
  );
  return { msg, accounting };
}

const linkFault = (state: 'raised' | 'cleared') => (r: Received) =>
  r.type === 'error' && r.payload?.data?.error_code === 41 && r.payload.data.state === state;

async function logPm2(t: ExecutionContext, stack: Pm2Stack | undefined): Promise<void> {
  if (!stack) return;
  const dir = join(stack.home, 'logs');
  for (const f of await readdir(dir).catch(() => [])) t.log(`--- ${f}\n${(await readFile(join(dir, f), 'utf8')).slice(-4000)}`);
}

test('four exchanges over the serial board, then a cable pull mid-payout: link fault raised and cleared, hardware not restarted, only the rest paid', async (t) => {
  t.timeout(90_000);
  const pty = await ptyPair();
  const boardOpts: EmulatorOptions = {
    device: pty.boardPath,
    stateFile: join(pty.dir, 'board.json'),
    control: join(pty.dir, 'board.sock'),
    coinMs: COIN_MS,
    eventRetryMs: 100,
    inventory: INVENTORY,
  };
  let board = await startEmulator(boardOpts);
  const env = testEnv({ COINEREX_HARDWARE: 'serial', COINEREX_SERIAL_PATH: pty.agentPath });
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  let cloud: CloudPeer | undefined;
  let stack: Pm2Stack | undefined;
  try {
    cloud = await cloudPeer(env.deviceId);
    stack = await startStack(['hardware', 'business', 'mqtt'], env.env);
    // The link is up and the books know the hopper once the board's status reached the business app.
    await waitFor(async () => (await redis.hget(env.keys.machine, 'inventory')) === String(INVENTORY), 20_000, 'the board status in the books');

    // The guide's four exchanges, inserted at the board.
    const steps = [
      { line: 'bill 100', amount: 100, coins: 10, bills: 100, coinsIn: 0 },
      { line: 'coin 50', amount: 50, coins: 5, bills: 0, coinsIn: 50 },
      { line: 'bill 500', amount: 500, coins: 50, bills: 500, coinsIn: 0 },
      { line: 'bill 1000', amount: 1000, coins: 100, bills: 1000, coinsIn: 0 },
    ];
    let balance = 0;
    const totals = { total_bills: 0, total_coins: 0, total_dispensed: 0, remote_dispensed: 0, bonus_coins: 0 };
    const expectExchange = async (n: number, s: (typeof steps)[number]): Promise<void> => {
      const { msg, accounting } = await nthWithAccounting(cloud!, 'transaction', n);
      const d = transactionDataSchema.parse(msg.payload.data);
      t.deepEqual(d.amounts, { bills_inserted: s.bills, coins_inserted: s.coinsIn, coins_dispensed: s.coins, transaction_amount: s.amount, coin_value: 10 }, `exchange ${n}`);
      t.deepEqual(d.balance, { before: balance, after: balance + s.amount });
      t.is(d.transaction_type, 'exchange');
      t.true(d.success);
      t.false('debt_coins' in d);
      balance += s.amount;
      totals.total_bills += s.bills;
      totals.total_coins += s.coinsIn;
      totals.total_dispensed += s.coins;
      t.deepEqual(accountingDataSchema.parse(accounting.payload.data), {
        machine_status: 1,
        status_description: '待機',
        counters: { ...totals },
        current_state: { debt_coins: 0, balance },
        codes: { alarm_code: 0, error_code: 0 },
      });
    };
    for (const [i, s] of steps.entries()) {
      t.like(await board.command(s.line), { accepted: true });
      await expectExchange(i + 1, s);
    }

    // A 1000 bill pays 100 coins; cut the cable and the board's power once 10 of them are out.
    const hardware = (await stack.list()).find((p) => p.name === 'hardware')!;
    t.like(await board.command('bill 1000'), { accepted: true });
    const cut = await waitFor(
      async () => (await board.state()).state.payouts.find((p) => p.state === 'paying' && p.paid >= 10),
      15_000,
      'the payout under way',
    );
    await Promise.all([board.kill('SIGKILL'), pty.kill('SIGKILL')]);
    const raised = await cloud.waitFor(linkFault('raised'), 15_000, 'link fault raised');
    t.like(raised.payload.data, { context: { link: 'down' }, impact: { service_available: false } });

    // Cable back in, board powered again on the same memory.
    await pty.start();
    board = await startEmulator(boardOpts);
    const cleared = await cloud.waitFor(linkFault('cleared'), 20_000, 'link fault cleared');
    t.like(cleared.payload.data, { context: { link: 'up' }, impact: { service_available: true } });
    t.true(cloud.received.indexOf(raised) < cloud.received.indexOf(cleared));

    // The exchange finishes whole: one transaction, 100 coins, no debt.
    await expectExchange(5, steps[3]!);
    t.is(cloud.unique('transaction').length, 5);

    // Recovered in place: PM2 restarted nothing.
    const after = await stack.list();
    for (const app of after) t.is(app.restarts, 0, `${app.name} restarts`);
    t.is(after.find((p) => p.name === 'hardware')!.pid, hardware.pid, 'same hardware process');

    // The driver itself saw one loss and two link-ups (start, replug).
    const linkChanges = async (up: boolean) => Number(await redis.hget(env.keys.metrics, metricField('serial_link_changes_total', { up: String(up) })));
    // The hardware app writes its metrics once per flush interval.
    await waitFor(async () => (await linkChanges(false)) >= 1 && (await linkChanges(true)) >= 2, 5000, 'link changes counted').catch(() => undefined);
    t.is(await linkChanges(false), 1);
    t.is(await linkChanges(true), 2);

    // Each link change raised or cleared the fault once; nothing else went wrong.
    t.is(cloud.unique('error').filter((r) => linkFault('raised')(r)).length, 1);
    t.is(cloud.unique('error').filter((r) => linkFault('cleared')(r)).length, 1);
    t.deepEqual(
      cloud.unique('error').map((r) => r.payload.data.error_code).filter((c) => c !== 41),
      [],
      'no other error (51 would mean a payout in doubt)',
    );

    // Physical truth (the board's non-volatile counters) against the books.
    const { state } = await board.state();
    t.deepEqual(state.totals, { bills: totals.total_bills, coins: totals.total_coins, paidOut: totals.total_dispensed });
    t.is(state.inventory, INVENTORY - totals.total_dispensed);
    const cutRecord = state.payouts.find((p) => p.payoutId === cut.payoutId)!;
    t.like(cutRecord, { state: 'done', requested: 100, reason: 'unknown' });
    t.true(cutRecord.paid >= cut.paid && cutRecord.paid < 100, `cut after ${cutRecord.paid} coins`);
    // The rest went out under one new payout id: every coin belongs to exactly one payout.
    const rest = state.payouts.filter((p) => p.payoutId !== cut.payoutId && p.requested === 100 - cutRecord.paid);
    t.is(rest.length, 1);
    t.log(`cut after ${cutRecord.paid} of 100 coins; ${rest[0]?.paid} more paid under a new payout id`);
    t.like(rest[0], { state: 'done', paid: 100 - cutRecord.paid, reason: 'complete' });
    t.is(state.payouts.length, 6);
    t.is(
      state.payouts.reduce((sum, p) => sum + p.paid, 0),
      state.totals.paidOut,
    );
  } catch (err) {
    await logPm2(t, stack);
    t.log(board.output().slice(-2000));
    throw err;
  } finally {
    await stack?.destroy();
    await cloud?.close();
    await board.kill();
    await pty.dispose();
    redis.disconnect();
    await cleanupRedis(env.prefix);
  }
});
