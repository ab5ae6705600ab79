/**
 * The guide's four exchanges end to end under PM2 — simulator, business and
 * mqtt apps — as a cloud subscriber receives them over MQTT: exact
 * `transaction` and `accounting` payloads.
 */
import test from 'ava';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { localDay } from '../../shared/clock.js';
import { queueNames, type ControlJob } from '../../queue/index.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, REDIS_URL } from '../helpers/env.js';
import { startStack } from '../helpers/pm2.js';

test('four exchanges as the cloud receives them over MQTT', async (t) => {
  t.timeout(120_000);
  const env = testEnv();
  const peer = await cloudPeer(env.deviceId, { prefix: env.config.topicPrefix });
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  const queueConnection = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
  const control = new Queue<ControlJob>(queueNames.control, { connection: queueConnection, prefix: env.keys.bullPrefix });
  const stack = await startStack(['hardware', 'business', 'mqtt'], env.env);
  t.teardown(async () => {
    await stack.destroy();
    await peer.close();
    await control.close();
    queueConnection.disconnect();
    redis.disconnect();
    await cleanupRedis(env.prefix);
  });

  const steps = [
    { job: { action: 'bill', amount: 100 }, bills: 100, coinsIn: 0, amount: 100, out: 10 },
    { job: { action: 'coin', amount: 50 }, bills: 0, coinsIn: 50, amount: 50, out: 5 },
    { job: { action: 'bill', amount: 500 }, bills: 500, coinsIn: 0, amount: 500, out: 50 },
    { job: { action: 'bill', amount: 1000 }, bills: 1000, coinsIn: 0, amount: 1000, out: 100 },
  ] as const;
  let balance = 0;
  let bills = 0;
  let coins = 0;
  let dispensed = 0;
  for (const [i, s] of steps.entries()) {
    await control.add('cash', s.job as ControlJob);
    await peer.waitCount('transaction', i + 1, 20_000);
    const txn = peer.unique('transaction')[i]!.payload;
    t.like(txn, { device_id: env.deviceId, message_type: 'transaction', version: '1.3.2' });
    t.regex(txn.data.transaction_id, new RegExp(`^TXN_${localDay(Date.now(), 'Asia/Taipei')}_\\d{6}_00${i + 1}$`));
    t.deepEqual(txn.data.amounts, { bills_inserted: s.bills, coins_inserted: s.coinsIn, coins_dispensed: s.out, transaction_amount: s.amount, coin_value: 10 });
    t.deepEqual(txn.data.balance, { before: balance, after: balance + s.amount });
    t.is(txn.data.success, true);
    balance += s.amount;
    bills += s.bills;
    coins += s.coinsIn;
    dispensed += s.out;
    const acc = await peer.waitFor(
      (r) => r.type === 'accounting' && r.payload.data.counters.total_dispensed === dispensed && r.payload.data.current_state.balance === balance,
      20_000,
      `accounting after exchange ${i + 1}`,
    );
    t.deepEqual(acc.payload.data, {
      machine_status: 1,
      status_description: '待機',
      counters: { total_bills: bills, total_coins: coins, total_dispensed: dispensed, remote_dispensed: 0, bonus_coins: 0 },
      current_state: { debt_coins: 0, balance },
      codes: { alarm_code: 0, error_code: 0 },
    });
  }
});
