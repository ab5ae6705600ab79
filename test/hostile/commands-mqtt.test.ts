/**
 * Hostile commands at the MQTT level: payloads published on the real command
 * topics to the running `hardware`, `business` and `mqtt` apps (separate
 * processes, as under PM2). The payload shapes themselves are covered at the
 * pipeline level by test/integration/commands-hostile.test.ts; this suite
 * adds what only the wire has — bytes that are not JSON, sizes past the
 * edge's limit (dropped unparsed), misrouted topics (another device, unknown types, the
 * device's own result topic) — and checks the whole chain: no process
 * exits, no coin leaves the (simulated) hopper, each refusal with a readable
 * id and an ACK asked for gets one `failed` result, the rest none.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { localDay } from '../../shared/clock.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { metricField } from '../../shared/metrics.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { MAX_HANDED_DEPTH, toCommandJob } from '../../workers/mqtt/inbound/command.js';
import { spawnApp, type AppProcess } from '../helpers/app-process.js';
import { cloudPeer, type CloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';

interface Case {
  name: string;
  /** Topic: a command type of this device, or a whole topic. */
  topic: string;
  payload: string | Buffer;
  /** The command_id whose `failed` result must come back; null: no result at all. */
  result: string | null;
  /** The mqtt app drops it as not JSON (counted in commands_invalid_json_total). */
  notJson?: boolean;
  /** The mqtt app drops it unparsed for its size (counted in commands_oversized_total). */
  oversized?: boolean;
}

function hostileCommands(deviceId: string): Case[] {
  const cases: Case[] = [];
  let n = 0;
  const id = () => `HM_${++n}`;
  const cmd = (type: string, commandId: string, data: unknown, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ command_id: commandId, command_type: type, timestamp: Math.floor(Date.now() / 1000), data, ...extra });

  // Not JSON, on every command topic: dropped by the mqtt app, never answered (no id can be trusted).
  for (const type of ['coin_dispense', 'restart', 'lock', 'query', 'config']) {
    const valid = cmd(type, id(), type === 'coin_dispense' ? { coins_to_dispense: 5 } : {});
    for (const [what, payload] of [
      ['truncated', valid.slice(0, -1)],
      ['byte order mark', `\ufeff${valid}`],
      ['single quotes', valid.replaceAll('"', "'")],
      ['trailing garbage', `${valid};rm -rf /`],
    ] as const) cases.push({ name: `${type}: ${what}`, topic: type, payload, result: null, notJson: true });
  }
  for (const [what, payload] of [
    ['empty', ''],
    ['invalid UTF-8', Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1])],
    ['NUL bytes', Buffer.alloc(256)],
  ] as const) cases.push({ name: `coin_dispense: ${what}`, topic: 'coin_dispense', payload, result: null, notJson: true });

  // Past the size limit: dropped by the mqtt app before parsing, never queued, never answered (no id is read).
  cases.push({ name: '1 MiB of noise', topic: 'coin_dispense', payload: Buffer.alloc(1 << 20, 0x7b), result: null, oversized: true });
  cases.push({ name: '1 MiB dispense', topic: 'coin_dispense', payload: cmd('coin_dispense', id(), { coins_to_dispense: 5, reason: 'x'.repeat(1 << 20) }), result: null, oversized: true });
  cases.push({ name: '50 000 levels', topic: 'coin_dispense', payload: `{"command_id":"${id()}","command_type":"coin_dispense","data":${'{"a":'.repeat(50_000)}5${'}'.repeat(50_000)}}`, result: null, oversized: true });
  cases.push({ name: '50 000 nested arrays', topic: 'query', payload: `${'['.repeat(50_000)}${']'.repeat(50_000)}`, result: null, oversized: true });

  // JSON within the size limit but past the pipeline's depth and shape limits: refused with a result when the id is readable.
  const deep = id();
  cases.push({ name: '2 000 levels', topic: 'coin_dispense', payload: `{"command_id":"${deep}","command_type":"coin_dispense","data":${'{"a":'.repeat(2_000)}5${'}'.repeat(2_000)}}`, result: deep });
  const proto = id();
  cases.push({ name: 'prototype pollution', topic: 'config', payload: `{"command_id":"${proto}","command_type":"config","data":{"__proto__":{"dispense_max_per_command":100000}}}`, result: proto });
  for (const coins of [-1, 0, 1.5, 'five', 1e9, null]) {
    const c = id();
    cases.push({ name: `dispense ${JSON.stringify(coins)} coins`, topic: 'coin_dispense', payload: cmd('coin_dispense', c, { coins_to_dispense: coins }), result: c });
  }
  const mismatch = id();
  cases.push({ name: 'dispense body on the lock topic', topic: 'lock', payload: cmd('coin_dispense', mismatch, { coins_to_dispense: 5 }), result: mismatch });
  const stale = id();
  cases.push({ name: 'a day old', topic: 'coin_dispense', payload: cmd('coin_dispense', stale, { coins_to_dispense: 5 }, { timestamp: Math.floor(Date.now() / 1000) - 86_400 }), result: stale });
  const lock = id();
  cases.push({ name: 'lock with an unknown action', topic: 'lock', payload: cmd('lock', lock, { action: 'lock_forever' }), result: lock });
  cases.push({ name: 'unreadable id', topic: 'coin_dispense', payload: cmd('coin_dispense', 42 as unknown as string, { coins_to_dispense: -5 }), result: null });
  cases.push({ name: 'JSON string', topic: 'restart', payload: '"restart now"', result: null });

  // Valid dispenses on topics the device must not act on: nothing paid, nothing answered.
  for (const topic of [
    `coinerex/commands/${deviceId}/ack`,
    `coinerex/commands/${deviceId}/self_destruct`,
    `coinerex/commands/${deviceId}/COIN_DISPENSE`,
    `coinerex/commands/${deviceId}/coin_dispense/extra`,
    `coinerex/commands/${deviceId}`,
    `coinerex/commands/OTHER_DEVICE/coin_dispense`,
    `coinerex/commands/${deviceId.toLowerCase()}/coin_dispense`,
    `COINEREX/commands/${deviceId}/coin_dispense`,
    `coinerex/ack/${deviceId}`,
    `coinerex/transaction/${deviceId}`,
  ]) {
    cases.push({ name: `valid dispense on ${topic}`, topic, payload: cmd('coin_dispense', id(), { coins_to_dispense: 7 }), result: null });
  }
  return cases;
}

let apps: AppProcess[] = [];
let cloud: CloudPeer | undefined;
const env = testEnv({ COINEREX_SIM_INVENTORY: '500' });

test.after.always(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await cloud?.close();
  await cleanupRedis(env.prefix);
});

test('hostile commands on the wire: no process exits, no coin paid, a failed result exactly when the id is readable and an ACK asked', async (t) => {
  t.timeout(120_000);
  cloud = await cloudPeer(env.deviceId);
  apps = ['workers/hardware', 'workers/business', 'workers/mqtt'].map((folder) => spawnApp(folder, env.env));
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const results = (commandId: string) => cloud!.of('command_result').filter((r) => r.payload?.ack_command_id === commandId);
  const send = (c: Case) => cloud!.publishRaw(c.topic.includes('/') ? c.topic : cloud!.topics.command(c.topic), c.payload);
  const probe = async (commandId: string) => {
    await cloud!.command('query', { command_id: commandId, command_type: 'query', timestamp: Math.floor(Date.now() / 1000), data: { query_type: 'accounting' } });
    return waitFor(() => results(commandId)[0], 30_000, `the result of ${commandId}`);
  };
  try {
    // Up end to end once a harmless query is answered; the first may go out before the mqtt app subscribed (QoS 0).
    await cloud.waitCount('heartbeat', 1, 30_000);
    await waitFor(
      async () => {
        await cloud!.command('query', { command_id: 'READY_1', command_type: 'query', timestamp: Math.floor(Date.now() / 1000), data: { query_type: 'accounting' } });
        return waitFor(() => results('READY_1')[0], 2000, 'READY_1').catch(() => null);
      },
      60_000,
      'the apps to answer a query',
    );
    t.like(results('READY_1')[0]!.payload, { status: 'success' });
    const pids = apps.map((a) => a.child.pid);
    const truthBefore = await readPhysicalTruth(redis, env.keys);

    const cases = hostileCommands(env.deviceId);
    for (const c of cases) await send(c);
    const answered = cases.flatMap((c) => (c.result ? [c.result] : []));
    await waitFor(() => answered.every((id) => results(id).length > 0), 30_000, `${answered.length} failed results`);
    // A query sent after the flood and answered: the commands before it have been handled.
    await probe('READY_2');

    for (const c of cases) {
      const got = c.result ? results(c.result) : [];
      if (c.result) {
        t.is(got.length, 1, `${c.name}: one result`);
        t.like(got[0]?.payload, { ack_command_id: c.result, status: 'failed', device_id: env.deviceId }, c.name);
        t.regex(String(got[0]?.payload?.result?.error_code), /^[A-Z_]+$/, `${c.name}: error code`);
      }
    }
    const expectedIds = new Set(['READY_1', 'READY_2', ...answered]);
    // Results carry device_id; what this test itself published on the result topic does not.
    const extra = cloud.of('command_result').filter((r) => r.payload?.device_id !== undefined && !expectedIds.has(r.payload?.ack_command_id));
    t.deepEqual(extra.map((r) => r.payload?.ack_command_id), [], 'no result for a payload without a readable id, an opt-out or a foreign topic');
    const notJson = async () => Number((await redis.hget(env.keys.metrics, metricField('commands_invalid_json_total'))) ?? 0);
    const wantNotJson = cases.filter((c) => c.notJson).length;
    // The mqtt app writes its metrics once per flush interval.
    await waitFor(async () => (await notJson()) >= wantNotJson, 5000, 'payloads that are not JSON counted').catch(() => undefined);
    t.is(await notJson(), wantNotJson, 'each payload that is not JSON counted by the mqtt app');
    const oversized = async () => Number((await redis.hget(env.keys.metrics, metricField('commands_oversized_total'))) ?? 0);
    const wantOversized = cases.filter((c) => c.oversized).length;
    await waitFor(async () => (await oversized()) >= wantOversized, 5000, 'oversized payloads counted').catch(() => undefined);
    t.is(await oversized(), wantOversized, 'each oversized payload counted by the mqtt app');

    const truth = await readPhysicalTruth(redis, env.keys);
    t.is(truth.dispensed, truthBefore.dispensed, 'no coin left the hopper');
    t.is(truth.inventory, truthBefore.inventory);
    const machine = await readMachineSnapshot(redis, env.keys, localDay(Date.now(), env.config.timezone));
    t.false(machine.locked, 'not locked');
    t.is(machine.counters.remote_dispensed, 0);
    t.is(await redis.exists(env.keys.settings), 0, 'no setting changed');
    t.deepEqual(apps.map((a) => a.child.pid), pids);
    t.true(apps.every((a) => a.child.exitCode === null && a.child.signalCode === null), 'every app still running');

    // The chain still pays a real command, once, however often it is repeated.
    const real = { command_id: 'REAL_1', command_type: 'coin_dispense', timestamp: Math.floor(Date.now() / 1000), data: { coins_to_dispense: 2 } };
    for (let i = 0; i < 3; i++) await cloud.command('coin_dispense', real);
    await waitFor(() => results('REAL_1').length === 3, 30_000, 'three results for the repeated command');
    t.true(results('REAL_1').every((r) => r.payload.status === 'success'), 'the original result each time');
    await waitFor(async () => (await readPhysicalTruth(redis, env.keys)).dispensed === truthBefore.dispensed + 2, 10_000, 'two coins out');
    await probe('READY_3');
    t.is((await readPhysicalTruth(redis, env.keys)).dispensed, truthBefore.dispensed + 2, 'paid once');
  } catch (err) {
    for (const a of apps) t.log(a.lines.slice(-20).join('\n'));
    throw err;
  } finally {
    redis.disconnect();
  }
});

test('a command nested 100 000 deep is handed over clipped: serializable, still too deep, its keys kept as keys', (t) => {
  const text = `{"command_id":"DEEP","__proto__":{"polluted":true},"data":${'[{"a":'.repeat(50_000)}5${'}]'.repeat(50_000)}}`;
  const r = toCommandJob('coinerex/commands/D/coin_dispense', 'coin_dispense', Buffer.from(text), 0);
  if (!r.ok) return t.fail(r.reason);
  const body = JSON.parse(JSON.stringify(r.job.body)) as Record<string, unknown>;
  t.is(r.job.bytes, text.length, 'the real size goes on');
  t.deepEqual(Object.keys(body), ['command_id', '__proto__', 'data']);
  let depth = 1;
  for (let v: unknown = body.data; typeof v === 'object' && v !== null; v = Array.isArray(v) ? v[0] : (v as { a: unknown }).a) depth++;
  t.is(depth, MAX_HANDED_DEPTH, 'clipped at the bound, far past what the business app accepts');
  t.is(({} as Record<string, unknown>).polluted, undefined);
  const plain = { command_id: 'P', command_type: 'lock', data: { action: 'lock', list: [1, { b: 2 }] } };
  const same = toCommandJob('t', 'lock', Buffer.from(JSON.stringify(plain)), 0);
  t.deepEqual(same.ok && same.job.body, plain, 'a normal command is untouched');
});
