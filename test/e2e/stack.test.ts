/**
 * The whole agent under PM2, driven as an engineer would: through the CLI and
 * a cloud peer on the broker.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startStack, ROOT, type Pm2Stack } from '../helpers/pm2.js';
import { cloudPeer, type CloudPeer } from '../helpers/cloud-peer.js';
import { testEnv, cleanupRedis } from '../helpers/env.js';
import { envelopeSchema, heartbeatDataSchema, transactionDataSchema } from '../../shared/messages.js';

const run = promisify(execFile);
const env = testEnv({ COINEREX_HEARTBEAT_SECONDS: '2' });
const cli = (...args: string[]) => run(join(ROOT, 'bin', 'coinerex'), args, { env: { ...process.env, ...env.env } });

let stack: Pm2Stack;
let peer: CloudPeer;

test.before(async () => {
  peer = await cloudPeer(env.deviceId);
  stack = await startStack(['hardware', 'business', 'mqtt', 'supervisor'], env.env);
});

test.after.always(async () => {
  await stack?.destroy();
  await peer?.close();
  await cleanupRedis(env.prefix);
});

test.serial('every app comes up and heartbeats arrive on the broker', async (t) => {
  const apps = await stack.list();
  t.deepEqual(apps.map((a) => a.status), ['online', 'online', 'online', 'online']);
  const hb = await peer.waitFor((r) => r.type === 'heartbeat' && r.payload?.data?.status === 'online', 15_000, 'heartbeat');
  t.true(envelopeSchema.safeParse(hb.payload).success);
  const data = heartbeatDataSchema.safeParse(hb.payload.data);
  t.true(data.success, JSON.stringify(data.error?.issues));
  // A second one on the 2 s schedule.
  await peer.waitFor((r) => r.type === 'heartbeat' && r !== hb, 6_000, 'second heartbeat');
});

test.serial('a bill inserted through the CLI becomes an ACKed transaction at the cloud', async (t) => {
  await cli('sim', 'bill', '100');
  const txn = await peer.waitFor((r) => r.type === 'transaction', 15_000, 'transaction');
  const data = transactionDataSchema.parse(txn.payload.data);
  t.is(data.amounts.bills_inserted, 100);
  t.is(data.amounts.coins_dispensed, 10);
  t.true(data.success);
  const acc = await peer.waitFor((r) => r.type === 'accounting', 10_000, 'accounting');
  t.is(acc.payload.data.counters.total_bills, 100);
  const { stdout } = await cli('status', '--json');
  const status = JSON.parse(stdout);
  t.is(status.machine?.counters?.total_dispensed ?? status.counters?.total_dispensed, 10);
});
