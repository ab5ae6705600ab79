/**
 * The durable floor's process (started by durable-floor.ts): the least
 * durable work an exchange needs, in one process on the agent's Redis and
 * broker. Per exchange: one atomic write for the credit and its payout
 * intent, one for the settlement with its outbox and journal entries, the
 * publish of the transaction and the accounting, one write per ACK — and
 * nothing else. Prints `{"ready":true}`, starts on a line on stdin, and
 * prints its own CPU time when done (before cleaning up its keys).
 *
 * argv[2]: JSON `{ redisUrl, mqttUrl, deviceId, rate, count }`.
 */
import mqtt from 'mqtt';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { topics } from '../shared/topics.js';

interface Args {
  redisUrl: string;
  mqttUrl: string;
  deviceId: string;
  rate: number;
  count: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const t = topics('coinerex', args.deviceId);
const k = (name: string) => `dfloor:${args.deviceId}:${name}`;
const redis = new Redis(args.redisUrl, { protocol: 2, maxRetriesPerRequest: null });
const client = await mqtt.connectAsync(args.mqttUrl, { clientId: `dfloor-${args.deviceId}`, reconnectPeriod: 0 });
(client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);

let acked = 0;
const acks: Promise<unknown>[] = [];
client.on('message', (_topic, buf) => {
  const ack = JSON.parse(buf.toString()) as { ack_message_id?: string };
  if (!ack.ack_message_id) return;
  acked++;
  acks.push(redis.hdel(k('outbox'), ack.ack_message_id));
});
await client.subscribeAsync(t.ack);

function envelope(type: string, data: Record<string, unknown>) {
  return { timestamp: new Date().toISOString(), device_id: args.deviceId, message_id: randomUUID(), message_type: type, version: '1.3.2', data };
}

async function exchange(i: number, at: number): Promise<void> {
  const credit = `C${i}`;
  await redis
    .multi()
    .hset(k(`credit:${credit}`), 'amount', 100, 'at', at)
    .hincrby(k('counters'), 'total_bills', 100)
    .hset(k('payouts'), credit, 10)
    .exec();
  const iso = new Date(at).toISOString();
  const txn = envelope('transaction', {
    transaction_type: 'exchange',
    transaction_id: `TXN_20250101_000000_${String(i + 1).padStart(3, '0')}`,
    amounts: { bills_inserted: 100, coins_inserted: 0, coins_dispensed: 10, transaction_amount: 100, coin_value: 10 },
    balance: { before: i * 100, after: (i + 1) * 100 },
    timing: { start_time: iso, dispense_time: iso, duration_ms: 0 },
    success: true,
  });
  const acc = envelope('accounting', {
    machine_status: 1,
    status_description: '待機',
    counters: { total_bills: (i + 1) * 100, total_coins: 0, total_dispensed: (i + 1) * 10, remote_dispensed: 0, bonus_coins: 0 },
    current_state: { debt_coins: 0, balance: (i + 1) * 100 },
    codes: { alarm_code: 0, error_code: 0 },
  });
  const txnJson = JSON.stringify(txn);
  const accJson = JSON.stringify(acc);
  await redis
    .multi()
    .hdel(k('payouts'), credit)
    .hincrby(k('counters'), 'total_dispensed', 10)
    .zadd(k('journal'), at, txnJson)
    .hset(k('outbox'), txn.message_id, txnJson, acc.message_id, accJson)
    .exec();
  client.publish(t.outbound('transaction'), txnJson);
  client.publish(t.outbound('accounting'), accJson);
}

// Setup is not part of an exchange: the parent samples Redis between "ready" and "done".
process.stdout.write('{"ready":true}\n');
await new Promise((r) => process.stdin.once('data', r));
const cpu0 = process.cpuUsage();
const started = Date.now();
const running: Promise<void>[] = [];
for (let i = 0; i < args.count; i++) {
  const due = started + (i * 1000) / args.rate;
  await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  running.push(exchange(i, Date.now()));
}
await Promise.all(running);
const deadline = Date.now() + 10_000;
while (acked < args.count * 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
await Promise.all(acks);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ done: true, acked, cpu_ms: (cpu.user + cpu.system) / 1000 })}\n`);
await client.endAsync();
await redis.del(k('outbox'), k('payouts'), k('counters'), k('journal'));
let cursor = '0';
do {
  const [next, found] = await redis.scan(cursor, 'MATCH', k('credit:*'), 'COUNT', 1000);
  cursor = next;
  if (found.length > 0) await redis.unlink(...found);
} while (cursor !== '0');
redis.disconnect();
