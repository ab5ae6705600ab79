/**
 * `pm2 restart <app>` of each app in turn while customers keep coming
 * (docs/architecture.md#invariant-1, docs/architecture.md#invariant-2,
 * docs/architecture.md#invariant-4, docs/architecture.md#invariant-5): nothing lost, nothing duplicated — checked against the
 * simulator's physical truth and the cloud's receipts (de-duplicated by
 * message_id, as the cloud does).
 */
import test from 'ava';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readJournalEntries } from '../../shared/journal.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { localDay } from '../../shared/clock.js';
import { queueNames, type ControlJob } from '../../queue/index.js';
import { queueCustomer } from '../helpers/customers.js';
import { testEnv, waitFor, REDIS_URL } from '../helpers/env.js';
import { startPm2Agent } from '../helpers/agent.js';

const apps = ['hardware', 'business', 'mqtt', 'supervisor', 'dashboard'];

test('pm2 restart of each app in turn during exchanges loses and duplicates nothing', async (t) => {
  t.timeout(240_000);
  const env = testEnv({ COINEREX_SIM_INVENTORY: '100000', COINEREX_SIM_PAYOUT_MS: '2', COINEREX_RETRY_SCHEDULE: '2,2,2,30' });
  const { keys } = env;
  const queueConnection = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
  const control = new Queue<ControlJob>(queueNames.control, { connection: queueConnection, prefix: keys.bullPrefix });
  const agent = await startPm2Agent(apps, env);
  const { stack, peer, redis } = agent;
  t.teardown(async () => {
    await control.close();
    queueConnection.disconnect();
    await agent.close();
  });

  // A steady stream of customers, one arriving every 100 ms, through every restart (a rate, not a wait).
  let sent = 0;
  const queued: Array<Promise<unknown>> = [];
  const arrivals = setInterval(() => queued.push(queueCustomer(control, sent++)), 100);
  t.teardown(() => clearInterval(arrivals));
  const journalled = () => redis.zcard(keys.journal);
  for (const app of apps) {
    const before = await journalled();
    const pid = await stack.restart(app);
    t.truthy(pid, `${app} back online`);
    await waitFor(async () => (await journalled()) >= before + 5, 60_000, `exchanges continue after restarting ${app}`);
  }
  clearInterval(arrivals);
  await Promise.all(queued);

  // Settle: every customer served and paid, every journal entry ACKed by the cloud.
  await waitFor(async () => (await control.getJobCounts('waiting', 'active', 'delayed')).waiting === 0, 60_000, 'all customers');
  await waitFor(
    async () => {
      const truth = await readPhysicalTruth(redis, keys);
      const credits = truth.bills[100] + truth.bills[500] + truth.bills[1000] + truth.coins50;
      const delivery = await readDeliveryStats(redis, keys);
      return credits === sent && (await journalled()) === credits && (await redis.llen(keys.payoutLane)) === 0 && delivery.pending === 0 && delivery.buffered === 0;
    },
    90_000,
    'every credit journalled, paid and ACKed',
    250,
  );

  const truth = await readPhysicalTruth(redis, keys);
  const snap = await readMachineSnapshot(redis, keys, localDay(Date.now(), env.config.timezone));
  const c = snap.counters;
  t.log(`${sent} customers, cash in ${truth.billsNtd + truth.coinsNtd} NTD, coins out ${truth.dispensed}, cloud saw ${peer.of('transaction').length} transaction deliveries`);
  t.is(c.total_bills, truth.billsNtd, 'no bill lost or counted twice');
  t.is(c.total_coins, truth.coinsNtd, 'no coin credit lost or counted twice');
  t.is(c.total_dispensed, truth.dispensed, 'books count every coin that left the hopper');
  t.is(truth.dispensed, (truth.billsNtd + truth.coinsNtd) / 10, 'each credit paid exactly once');
  t.is(c.debt_coins, 0);

  // The cloud's view: every journal entry arrived, under its one message_id; no transaction twice under two ids.
  const journal = await readJournalEntries(redis, keys, { since: null, until: null, limit: 10_000 });
  t.is(journal.length, sent);
  const received = new Map<string, Set<string>>();
  for (const r of peer.unique('transaction')) {
    const txn = r.payload.data.transaction_id as string;
    received.set(txn, (received.get(txn) ?? new Set()).add(r.payload.message_id));
  }
  for (const e of journal) {
    const txn = (e.envelope.data as { transaction_id: string }).transaction_id;
    t.deepEqual([...(received.get(txn) ?? [])], [e.envelope.message_id], `${txn} reached the cloud once, under its journal message_id`);
  }
  t.is(received.size, journal.length, 'the cloud saw no transaction the journal does not have');
  const distinct = new Set(peer.unique('transaction').map((r) => r.payload.data.transaction_id));
  t.is(distinct.size, journal.length);
});
