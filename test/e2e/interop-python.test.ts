/**
 * The agent under PM2 against a cloud it did not write (issue 11): a Python 3
 * cloud (test/interop/cloud.py, Debian's python3-paho-mqtt and
 * python3-jsonschema) built from the zh-TW guide's examples. It ACKs in
 * several dialects (null fields, no status, message_id only, "success", a
 * refusal), sends the guide's commands (TEST_001 through mosquitto_pub, lock,
 * query, restart) and validates every message against docs/schemas/. Here the
 * agent's own books confirm what the cloud saw: nothing pending or given up,
 * every journaled transaction received, and the hopper paid exactly what the
 * transactions say.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { readJournalEntries } from '../../shared/journal.js';
import { metricField } from '../../shared/metrics.js';
import { cleanupRedis, MQTT_URL, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';
import { ROOT, startStack } from '../helpers/pm2.js';

/** Debian's interpreter: the one python3-paho-mqtt and python3-jsonschema are installed for. */
const PYTHON = process.env.COINEREX_TEST_PYTHON ?? '/usr/bin/python3';

interface Report {
  ok: boolean;
  failures: string[];
  received: Record<string, number>;
  message_ids: Record<string, string[]>;
  acks: Record<string, number>;
  transactions: number;
  coins_in_transactions: number;
  total_dispensed: number;
}

function runCloud(args: string[]): Promise<{ code: number | null; report: Report | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(ROOT, 'test', 'interop', 'cloud.py'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      if (process.env.COINEREX_TEST_LOG) process.stderr.write(b);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      let report: Report | null = null;
      try {
        report = JSON.parse(last) as Report;
      } catch {
        report = null;
      }
      resolve({ code, report, stderr: err });
    });
  });
}

test('a Python cloud written from the guide: dialect ACKs, the guide commands, every message valid against docs/schemas', async (t) => {
  t.timeout(240_000);
  // The guide's three retry values; customers every 1.5 s; a low-coin alarm early (inventory 2000 < warning 1995 after one exchange).
  const env = testEnv({
    COINEREX_RETRY_SCHEDULE: '3,3,3',
    COINEREX_HEARTBEAT_SECONDS: '5',
    COINEREX_SIM_CUSTOMERS_PER_MINUTE: '40',
    COINEREX_LOW_COIN_WARNING: '1995',
  });
  const broker = new URL(MQTT_URL);
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  // The cloud is up before the agent: the agent's first messages must reach it, not the void.
  const cloud = runCloud([
    '--device', env.deviceId, '--host', broker.hostname, '--port', broker.port || '1883',
    '--schemas', join(ROOT, 'docs', 'schemas'), '--exchanges', '4',
  ]);
  const stack = await startStack(['hardware', 'business', 'mqtt', 'supervisor'], env.env);
  try {
    const { code, report, stderr } = await cloud;
    const cloudDone = Date.now();
    t.log(stderr.slice(-3000));
    t.log(JSON.stringify({ received: report?.received, acks: report?.acks, transactions: report?.transactions, coins: report?.coins_in_transactions }));
    t.truthy(report, `the cloud printed no report (exit ${code}): ${stderr.slice(-2000)}`);
    t.deepEqual(report?.failures, [], 'every check of the Python cloud');
    t.is(code, 0);
    if (!report) return;

    // The agent's side: everything the cloud ACKed is settled (customers keep coming after the cloud left: those wait), nothing given up.
    const acked = Object.values(report.message_ids).flat();
    // ACKs are settled in batches a few ms after they arrive: the last ones may still be on their way.
    const waiting = async () => {
      const left: string[] = [];
      for (const id of acked) if ((await redis.zscore(env.keys.outDue, id)) !== null) left.push(id);
      return left;
    };
    await waitFor(async () => (await waiting()).length === 0, 5_000, 'every ACKed message settled').catch(() => undefined);
    t.deepEqual(await waiting(), [], 'every ACKed message settled');
    t.is((await readDeliveryStats(redis, env.keys)).failed, 0, 'no message given up');
    // Every transaction the agent journaled reached the cloud.
    const journal = await readJournalEntries(redis, env.keys, { since: null, until: null, limit: 1000 });
    const seen = new Set(report.message_ids.transaction);
    const missing = journal.filter((e) => e.at <= cloudDone - 5_000 && !seen.has(e.envelope.message_id));
    t.deepEqual(missing.map((e) => e.transactionId), [], 'every journaled transaction arrived');
    t.true(journal.length >= 6, `${journal.length} transactions`);
    // The unknown status word ("RECEIVED" counts as known; none unknown were sent) and no invalid ACK.
    t.is(Number((await redis.hget(env.keys.metrics, metricField('acks_invalid_total'))) ?? 0), 0, 'no ACK dialect refused as invalid');
    t.true(Number((await redis.hget(env.keys.metrics, metricField('acks_error_total'))) ?? 0) >= 1, 'the refusal was seen');
  } finally {
    await stack.destroy();
    redis.disconnect();
    await cleanupRedis(env.prefix);
  }
});
