/**
 * Money safety across kill -9 under PM2 (docs/architecture.md#invariant-1, docs/architecture.md#invariant-2, docs/architecture.md#invariant-4):
 * 200 customers insert cash through the real simulator while the business
 * and hardware apps are killed with SIGKILL mid-run. In the end no credit is
 * lost, no coin is paid twice, no event is counted twice:
 * total_bills + total_coins equals the cash the simulator took in, and
 * total_dispensed equals the coins that physically left the hopper.
 */
import test from 'ava';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readJournalEntries } from '../../shared/journal.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { localDay } from '../../shared/clock.js';
import { queueNames, type ControlJob } from '../../queue/index.js';
import { queueCustomer } from '../helpers/customers.js';
import { cleanupRedis, testEnv, waitFor, REDIS_URL } from '../helpers/env.js';
import { startStack } from '../helpers/pm2.js';

const CUSTOMERS = 200;

test('kill -9 of business and hardware during 200 exchanges: books equal physical truth', async (t) => {
  t.timeout(300_000);
  const env = testEnv({ COINEREX_SIM_INVENTORY: '100000', COINEREX_SIM_PAYOUT_MS: '2' });
  const { keys } = env;
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  const queueConnection = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
  const control = new Queue<ControlJob>(queueNames.control, { connection: queueConnection, prefix: keys.bullPrefix });
  const stack = await startStack(['hardware', 'business'], env.env);
  t.teardown(async () => {
    await stack.destroy();
    await control.close();
    queueConnection.disconnect();
    redis.disconnect();
    await cleanupRedis(env.prefix);
  });

  for (let i = 0; i < CUSTOMERS; i++) await queueCustomer(control, i);
  const journalled = () => redis.zcard(keys.journal);

  // Kill each app while exchanges and payouts are under way.
  await waitFor(async () => (await journalled()) >= 40, 60_000, '40 transactions');
  await stack.kill9('business');
  await waitFor(async () => (await journalled()) >= 90, 90_000, '90 transactions');
  await stack.kill9('hardware');
  await waitFor(async () => (await journalled()) >= 140, 90_000, '140 transactions');
  await stack.kill9('business');
  await stack.kill9('hardware');

  // Every customer served, every transaction journalled, nothing left to pay.
  await waitFor(async () => (await control.getJobCounts('waiting', 'active', 'delayed')).waiting === 0, 120_000, 'all customers');
  await waitFor(
    async () => {
      const truth = await readPhysicalTruth(redis, keys);
      const credits = truth.bills[100] + truth.bills[500] + truth.bills[1000] + truth.coins50;
      return credits > 0 && (await journalled()) === credits && (await redis.llen(keys.payoutLane)) === 0;
    },
    150_000,
    'every credit journalled and paid',
    250,
  );

  const truth = await readPhysicalTruth(redis, keys);
  const snap = await readMachineSnapshot(redis, keys, localDay(Date.now(), env.config.timezone));
  const c = snap.counters;
  t.log(`credits ${truth.bills[100] + truth.bills[500] + truth.bills[1000] + truth.coins50}, cash in ${truth.billsNtd + truth.coinsNtd} NTD, coins out ${truth.dispensed}`);
  t.is(c.total_bills, truth.billsNtd, 'no bill lost or counted twice');
  t.is(c.total_coins, truth.coinsNtd, 'no coin credit lost or counted twice');
  t.is(c.total_dispensed, truth.dispensed, 'books count every coin that left the hopper');
  // No bonus table: exactly one tenth of the cash in was owed, and it was paid once.
  t.is(truth.dispensed, (truth.billsNtd + truth.coinsNtd) / 10, 'no coin paid twice, none owed');
  t.is(c.debt_coins, 0);
  t.is(c.balance, truth.billsNtd + truth.coinsNtd);

  const journal = await readJournalEntries(redis, keys, { since: null, until: null, limit: 10_000 });
  const ids = new Set(journal.map((e) => (e.envelope.data as any).transaction_id));
  t.is(ids.size, journal.length, 'transaction ids unique');
  t.is(journal.reduce((s, e) => s + (e.envelope.data as any).amounts.coins_dispensed, 0), truth.dispensed);
  t.is(journal.reduce((s, e) => s + (e.envelope.data as any).amounts.transaction_amount, 0), truth.billsNtd + truth.coinsNtd);
});
