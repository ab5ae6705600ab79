/**
 * Remote commands against the running agent under PM2 (issue 4 "Done
 * when"), driven over MQTT by a cloud peer: the guide's TEST_001 with no key,
 * a repeat paying nothing, query transactions re-publishing the original
 * messages, config changing the heartbeat live, a lock that survives a
 * restart of every app and then unlocks itself, and a soft restart whose
 * result arrives before the apps go down.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { localDay } from '../../shared/clock.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { cloudPeer, type CloudPeer, type Received } from '../helpers/cloud-peer.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';
import { ROOT, startStack, type Pm2Stack } from '../helpers/pm2.js';

const env = testEnv({ COINEREX_HEARTBEAT_SECONDS: '60', COINEREX_RETRY_SCHEDULE: '2,2,2,5' });
const run = promisify(execFile);
const cli = (...args: string[]) => run(join(ROOT, 'bin', 'coinerex'), args, { env: { ...process.env, ...env.env } });
const apps = ['hardware', 'business', 'mqtt', 'supervisor'];

let stack: Pm2Stack;
let peer: CloudPeer;
let redis: Redis;

test.before(async () => {
  redis = new Redis(REDIS_URL, { protocol: 2 });
  peer = await cloudPeer(env.deviceId);
  stack = await startStack(apps, env.env);
  // The agent is on the broker once its first heartbeat arrives.
  await peer.waitFor((r) => r.type === 'heartbeat', 20_000, 'first heartbeat');
});

test.after.always(async () => {
  await stack?.destroy();
  await peer?.close();
  redis?.disconnect();
  await cleanupRedis(env.prefix);
});

let n = 0;
/** Sends a command and resolves with its result. */
async function command(type: string, data: unknown, extra: Record<string, unknown> = {}): Promise<Received['payload']> {
  const id = (extra.command_id as string | undefined) ?? `E2E_${++n}_${Date.now()}`;
  const seen = peer.of('command_result').filter((r) => r.payload?.ack_command_id === id).length;
  await peer.command(type, { command_id: id, command_type: type, data, ...extra });
  const results = await waitFor(
    () => {
      const all = peer.of('command_result').filter((r) => r.payload?.ack_command_id === id);
      return all.length > seen ? all : null;
    },
    20_000,
    `result of ${type} ${id}`,
  );
  return results.at(-1)!.payload;
}
const snapshot = () => readMachineSnapshot(redis, env.keys, localDay(Date.now(), env.config.timezone));

test.serial("the guide's TEST_001 (no key) pays 5 coins, reports them, and a repeat pays nothing", async (t) => {
  const guide = { command_id: 'TEST_001', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } };
  await peer.command('coin_dispense', guide);
  const result = await peer.waitFor((r) => r.type === 'command_result' && r.payload.ack_command_id === 'TEST_001', 20_000, 'TEST_001 result');
  t.like(result.payload, { device_id: env.deviceId, command_type: 'coin_dispense', status: 'success', result: { coins_dispensed: 5 } });
  const txn = await peer.waitFor((r) => r.type === 'transaction' && r.payload.data.command_id === 'TEST_001', 15_000, 'remote_dispense transaction');
  t.like(txn.payload.data, { transaction_type: 'remote_dispense', transaction_id: result.payload.result.transaction_id, amounts: { coins_dispensed: 5 } });
  await waitFor(async () => (await snapshot()).counters.remote_dispensed === 5, 10_000, 'remote_dispensed 5');

  const again = await command('coin_dispense', guide.data, { command_id: 'TEST_001' });
  t.deepEqual(again, result.payload, 'the original result, again');
  t.is((await snapshot()).counters.remote_dispensed, 5, 'paid once');
  t.is(peer.of('transaction').filter((r) => r.payload.data.command_id === 'TEST_001').length, 1);
});

test.serial('query transactions re-publishes journal entries with their original message_id', async (t) => {
  const since = Math.floor(Date.now() / 1000) - 600;
  await cli('sim', 'bill', '100');
  const exchange = await peer.waitFor((r) => r.type === 'transaction' && r.payload.data.transaction_type === 'exchange', 15_000, 'exchange');
  const before = peer.of('transaction').length;
  const result = await command('query', { query_type: 'transactions', since, limit: 100 });
  t.is(result.status, 'success');
  t.true(result.result.message_ids.includes(exchange.payload.message_id));
  const replays = await waitFor(() => (peer.of('transaction').length >= before + result.result.count ? peer.of('transaction').slice(before) : null), 15_000, 'replayed transactions');
  const replay = replays.find((r) => r.payload.message_id === exchange.payload.message_id);
  t.truthy(replay, 'the exchange came again under its original message_id');
  t.deepEqual(replay!.payload, exchange.payload);
});

test.serial('config changes the heartbeat interval live; the result lists applied and rejected', async (t) => {
  const result = await command('config', { heartbeat_interval: 1, bogus: 1 });
  t.like(result, { status: 'success' });
  t.deepEqual(result.result.applied, [{ key: 'heartbeat_interval', setting: 'heartbeatSeconds', value: 1 }]);
  t.is(result.result.rejected[0].key, 'bogus');
  const from = Date.now();
  await waitFor(() => peer.of('heartbeat').filter((r) => r.at > from).length >= 3, 10_000, 'heartbeats every second');
  t.like(await command('config', { heartbeat_interval: 60 }), { status: 'success' });
});

test.serial('a lock survives a restart of every app, refuses dispense, and unlocks itself', async (t) => {
  const result = await command('lock', { action: 'lock', duration_minutes: 0.4, reason: 'e2e', message_display: '維護中' });
  t.like(result, { status: 'success', result: { action_completed: 'lock' } });
  const unlockAt = result.result.lock_end_time * 1000;
  t.true((await snapshot()).locked);
  const restartedFrom = Date.now();
  for (const app of apps) await stack.restart(app);
  // The mqtt app sends a heartbeat right after it connects (PROTOCOL.md §5).
  await peer.waitFor((r) => r.type === 'heartbeat' && r.at > restartedFrom, 20_000, 'agent back on the broker');
  t.true(Date.now() < unlockAt, 'restarts done before the unlock time (else the test proves nothing)');
  const s = await snapshot();
  t.true(s.locked);
  t.true(s.activeAlarms.includes(3), 'alarm 3 while locked');
  t.like(await command('coin_dispense', { coins_to_dispense: 1 }), { status: 'failed', result: { error_code: 'MACHINE_LOCKED' } });
  await waitFor(async () => !(await snapshot()).locked, unlockAt - Date.now() + 15_000, 'auto-unlock');
  t.true(Date.now() >= unlockAt - 1_000, 'not before its time');
  t.false((await snapshot()).activeAlarms.includes(3), 'alarm 3 cleared');
  t.like(await command('coin_dispense', { coins_to_dispense: 1 }), { status: 'success' });
});

test.serial('a soft restart answers first, then every app restarts', async (t) => {
  const before = new Map(await Promise.all(apps.map(async (a) => [a, await stack.pid(a)] as const)));
  const result = await command('restart', { restart_type: 'soft', reason: 'e2e' });
  t.like(result, { status: 'success', result: { restart_initiated: true, active_transactions: 0 } });
  for (const app of ['hardware', 'business', 'mqtt']) await stack.waitOnline(app, before.get(app), 30_000);
  t.pass('result received, and hardware, business and mqtt restarted');
  t.like(await command('query', { query_type: 'heartbeat' }), { status: 'success' });
});
