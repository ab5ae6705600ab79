/**
 * Remote commands against the running agent under PM2 (docs/protocol.md#7-commands,
 * docs/architecture.md#invariant-3), driven over MQTT by a cloud peer: the guide's TEST_001 with no key,
 * a repeat paying nothing, query transactions re-publishing the original
 * messages, config changing the heartbeat live and for good (across restarts
 * of the mqtt and business apps) while rejecting invalid values by key, a lock
 * that refuses bills, coins and dispense, survives a restart of every app and
 * then unlocks itself, and a soft restart whose result arrives before the apps
 * go down.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { localDay } from '../../shared/clock.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { readRuntimeSettings } from '../../shared/runtime-settings.js';
import { makeQueue, queueNames } from '../../queue/index.js';
import { resultOf, startPm2Agent, type AgentUnderTest } from '../helpers/agent.js';
import type { CloudPeer, Received } from '../helpers/cloud-peer.js';
import { testEnv, waitFor, watchUnchanged } from '../helpers/env.js';
import { ROOT, type Pm2Stack } from '../helpers/pm2.js';

const env = testEnv({ COINEREX_HEARTBEAT_SECONDS: '60', COINEREX_RETRY_SCHEDULE: '2,2,2,5' });
const run = promisify(execFile);
const cli = (...args: string[]) => run(join(ROOT, 'bin', 'coinerex'), args, { env: { ...process.env, ...env.env } });
const apps = ['hardware', 'business', 'mqtt', 'supervisor'];

let agent: AgentUnderTest;
let stack: Pm2Stack;
let peer: CloudPeer;

test.before(async () => {
  agent = await startPm2Agent(apps, env);
  ({ stack, peer } = agent);
});

test.after.always(async () => {
  await agent?.close();
});

let n = 0;
/** Sends a command and resolves with its result. */
function command(type: string, data: unknown, extra: Record<string, unknown> = {}): Promise<Received['payload']> {
  const id = (extra.command_id as string | undefined) ?? `E2E_${++n}_${Date.now()}`;
  return resultOf(peer, id, () => peer.command(type, { command_id: id, command_type: type, data, ...extra }));
}
const snapshot = () => readMachineSnapshot(agent.redis, env.keys, localDay(Date.now(), env.config.timezone));

/** `coinerex sim …`, then what the simulator did with it once the hardware app has handled it ('accepted' or 'refused' for cash). */
async function sim(...args: string[]): Promise<unknown> {
  const { stdout } = await cli('sim', ...args);
  const jobId = /\(job (\S+)\)/.exec(stdout)?.[1];
  if (!jobId) throw new Error(`no job id in "${stdout}"`);
  const control = makeQueue(queueNames.control, agent.redis, env.keys.bullPrefix);
  try {
    const handled = async () => {
      const job = await control.getJob(jobId);
      return job?.finishedOn ? job : null;
    };
    return (await waitFor(handled, 10_000, `sim ${args.join(' ')} handled`, 50)).returnvalue;
  } finally {
    await control.close();
  }
}

/** The cash box (the simulator's physical truth) and the books' cash taken in. */
async function cashTaken() {
  const truth = await readPhysicalTruth(agent.redis, env.keys);
  const { counters } = await snapshot();
  return { bills: truth.bills, coins50: truth.coins50, totalBills: counters.total_bills, totalCoins: counters.total_coins };
}

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

test.serial('config changes the heartbeat interval live and across restarts; invalid values are rejected by key', async (t) => {
  const result = await command('config', { heartbeat_interval: 1, bogus: 1 });
  t.like(result, { status: 'success' });
  t.deepEqual(result.result.applied, [{ key: 'heartbeat_interval', setting: 'heartbeatSeconds', value: 1 }]);
  t.is(result.result.rejected[0].key, 'bogus');
  const from = Date.now();
  await waitFor(() => peer.of('heartbeat').filter((r) => r.at > from).length >= 3, 10_000, 'heartbeats every second');

  // Persisted: neither the app that sends heartbeats nor the one that owns the settings forgets it on a restart.
  await Promise.all([stack.restart('mqtt'), stack.restart('business')]);
  const restarted = Date.now();
  // Invalid values are rejected by key and change nothing: the heartbeats below keep their 1 s.
  const bad = await command('config', { heartbeat_interval: -5, status_interval: 'abc' });
  t.like(bad, { status: 'failed', result: { error_code: 'INVALID_COMMAND' } });
  t.deepEqual(bad.result.applied, []);
  t.deepEqual(bad.result.rejected.map((r: { key: string }) => r.key), ['heartbeat_interval', 'status_interval']);
  t.is((await readRuntimeSettings(agent.redis, env.keys, env.config)).heartbeatSeconds, 1, 'the interval in force is kept');
  const beats = () => peer.of('heartbeat').filter((r) => r.at > restarted);
  const after = await waitFor(() => (beats().length >= 3 ? beats() : null), 10_000, 'heartbeats every second after the restarts');
  const gaps = after.slice(1).map((r, i) => r.at - after[i]!.at);
  t.true(gaps.every((ms) => ms < 2_500), `heartbeat gaps ${gaps.join(', ')} ms`);
  t.like(await command('config', { heartbeat_interval: 60 }), { status: 'success' });
});

test.serial('a lock refuses cash and dispense, survives a restart of every app, and unlocks itself', async (t) => {
  const result = await command('lock', { action: 'lock', duration_minutes: 0.35, reason: 'e2e', message_display: '維護中' });
  t.like(result, { status: 'success', result: { action_completed: 'lock' } });
  const unlockAt = result.result.lock_end_time * 1000;
  t.true((await snapshot()).locked);
  const restartedFrom = Date.now();
  // All at once: no app can hand the lock to another, it must come back from Redis.
  await Promise.all(apps.map((app) => stack.restart(app)));
  // The mqtt app sends a heartbeat right after it connects (docs/protocol.md#heartbeat).
  await peer.waitFor((r) => r.type === 'heartbeat' && r.at > restartedFrom, 20_000, 'agent back on the broker');
  t.true(Date.now() < unlockAt, 'restarts done before the unlock time (else the test proves nothing)');
  const s = await snapshot();
  t.true(s.locked);
  t.true(s.activeAlarms.includes(3), 'alarm 3 while locked');
  t.like(await command('coin_dispense', { coins_to_dispense: 1 }), { status: 'failed', result: { error_code: 'MACHINE_LOCKED' } });
  // The acceptors hand bills and coins back: neither the cash box nor the books move.
  const cashBefore = await cashTaken();
  t.deepEqual(await Promise.all([sim('bill', '100'), sim('coin', '50')]), ['refused', 'refused']);
  t.deepEqual((await watchUnchanged(cashTaken, 2_000)).after, cashBefore, 'no cash taken while locked');
  t.true(Date.now() < unlockAt, 'cash refused while still locked (else the test proves nothing)');
  await waitFor(async () => !(await snapshot()).locked, unlockAt - Date.now() + 15_000, 'auto-unlock');
  t.true(Date.now() >= unlockAt - 1_000, 'not before its time');
  // The lock is removed first and alarm 3 cleared right after, in two writes.
  await waitFor(async () => !(await snapshot()).activeAlarms.includes(3), 5_000, 'alarm 3 cleared');
  await waitFor(async () => (await readPhysicalTruth(agent.redis, env.keys)).acceptorsEnabled, 5_000, 'acceptors on again');
  const cashUnlocked = await cashTaken();
  t.is(await sim('bill', '100'), 'accepted');
  await waitFor(async () => (await cashTaken()).totalBills === cashUnlocked.totalBills + 100, 10_000, 'the bill booked');
  t.is((await cashTaken()).bills[100], cashUnlocked.bills[100] + 1);
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
