/**
 * Signed remote commands against the running agent under PM2
 * (docs/protocol.md#command-authentication, docs/architecture.md#invariant-3), over MQTT: with a command public key configured, every forged,
 * misrouted or stale command is refused with its error code and moves no
 * coin (the simulator's physical truth and the books stay put); a genuine
 * signed dispense published five times pays once and answers five times with
 * the same result; a hard restart is not permitted and restarts nothing.
 */
import test from 'ava';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDay } from '../../shared/clock.js';
import { signCommand } from '../../shared/command-signature.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { topics } from '../../shared/topics.js';
import { resultOf, startPm2Agent, type AgentUnderTest } from '../helpers/agent.js';
import { testEnv, waitFor, watchUnchanged, type TestEnv } from '../helpers/env.js';

const apps = ['hardware', 'business', 'mqtt'];

let dir: string;
let env: TestEnv;
let deviceKey: KeyObject;
let agent: AgentUnderTest;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coinerex-signed-'));
  const pair = generateKeyPairSync('ed25519');
  deviceKey = pair.privateKey;
  const publicKeyPath = join(dir, 'command-public.pem');
  await writeFile(publicKeyPath, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  env = testEnv({ COINEREX_COMMAND_PUBLIC_KEY: publicKeyPath, COINEREX_HEARTBEAT_SECONDS: '60' });
  agent = await startPm2Agent(apps, env);
});

test.after.always(async () => {
  await agent?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);
let n = 0;
const newId = (what: string) => `SIG_${what}_${++n}_${Date.now()}`;

/** A command body as the cloud builds it (timestamp now unless given). */
function body(id: string, type: string, data: unknown, timestamp = now()): Record<string, unknown> {
  return { timestamp, command_id: id, command_type: type, requires_ack: true, data };
}

/** `command` with a signature over `signedTopic` by `key`. */
const signed = (signedTopic: string, command: Record<string, unknown>, key = deviceKey) => ({ ...command, signature: signCommand(signedTopic, command, key) });

const topicOf = (type: string) => agent.peer.topics.command(type);
const resultsFor = (id: string) => agent.peer.of('command_result').filter((r) => r.payload?.ack_command_id === id);

/** Publishes `payload` on `topic` and resolves with the result for `id` that it causes. */
const send = (topic: string, id: string, payload: Record<string, unknown>) => resultOf(agent.peer, id, () => agent.peer.publishRaw(topic, JSON.stringify(payload)));

/** What moves when coins move: the simulator's hopper and the books. */
async function coinState() {
  const truth = await readPhysicalTruth(agent.redis, env.keys);
  const { counters, locked } = await readMachineSnapshot(agent.redis, env.keys, localDay(Date.now(), env.config.timezone));
  return { dispensed: truth.dispensed, inventory: truth.inventory, totalDispensed: counters.total_dispensed, remoteDispensed: counters.remote_dispensed, locked };
}

const remoteTransactions = (id: string) => agent.peer.unique('transaction').filter((r) => r.payload.data?.transaction_type === 'remote_dispense' && r.payload.data?.command_id === id);

test.serial('forged, misrouted and stale commands are refused with their code and move no coin', async (t) => {
  const dispenseTopic = topicOf('coin_dispense');
  const before = await coinState();
  const other = generateKeyPairSync('ed25519').privateKey;
  const cases: Array<{ what: string; code: string; build: (id: string) => Record<string, unknown> }> = [
    { what: 'unsigned', code: 'UNAUTHENTICATED', build: (id) => body(id, 'coin_dispense', { coins_to_dispense: 5 }) },
    { what: 'signed with another key', code: 'UNAUTHENTICATED', build: (id) => signed(dispenseTopic, body(id, 'coin_dispense', { coins_to_dispense: 5 }), other) },
    {
      what: 'signed for another device',
      code: 'UNAUTHENTICATED',
      build: (id) => signed(topics('coinerex', `${env.deviceId}X`).command('coin_dispense'), body(id, 'coin_dispense', { coins_to_dispense: 5 })),
    },
    {
      what: 'signed for the lock topic, sent on coin_dispense',
      code: 'UNAUTHENTICATED',
      build: (id) => signed(topicOf('lock'), body(id, 'coin_dispense', { coins_to_dispense: 5 })),
    },
    {
      what: 'a genuine lock command sent on coin_dispense',
      code: 'INVALID_COMMAND',
      build: (id) => signed(topicOf('lock'), body(id, 'lock', { action: 'lock' })),
    },
    { what: 'signed, 310 s old', code: 'EXPIRED', build: (id) => signed(dispenseTopic, body(id, 'coin_dispense', { coins_to_dispense: 5 }, now() - 310)) },
  ];
  for (const c of cases) {
    const id = newId(c.what.replace(/\W+/g, '_'));
    const result = await send(dispenseTopic, id, c.build(id));
    t.like(result, { device_id: env.deviceId, ack_command_id: id, status: 'failed', result: { error_code: c.code } }, c.what);
  }
  // Every result is out, so anything executed has finished: nothing did.
  t.deepEqual(await coinState(), before, 'no coin moved, the books did not change, the machine is not locked');
  t.is(agent.peer.unique('transaction').filter((r) => r.payload.data?.transaction_type === 'remote_dispense').length, 0, 'no remote_dispense transaction');
});

test.serial('a signed dispense published five times pays once and answers five times with the original result', async (t) => {
  const topic = topicOf('coin_dispense');
  const id = newId('DISPENSE');
  // A forgery first: refusals never spend the id, so the genuine command still runs.
  const forged = await send(topic, id, signed(topic, body(id, 'coin_dispense', { coins_to_dispense: 50 }), generateKeyPairSync('ed25519').privateKey));
  t.like(forged, { status: 'failed', result: { error_code: 'UNAUTHENTICATED' } });

  const before = await coinState();
  const payload = JSON.stringify(signed(topic, body(id, 'coin_dispense', { coins_to_dispense: 5, reason: 'e2e' })));
  const seen = resultsFor(id).length;
  for (let i = 0; i < 5; i++) await agent.peer.publishRaw(topic, payload);
  const results = (await waitFor(() => (resultsFor(id).length >= seen + 5 ? resultsFor(id) : null), 20_000, '5 results')).slice(seen).map((r) => r.payload);
  t.like(results[0], { status: 'success', result: { coins_dispensed: 5 } });
  t.true(String(results[0].result.transaction_id).startsWith('REMOTE_'));
  for (const r of results.slice(1)) t.deepEqual(r, results[0], 'a repeat gets the original result');

  const after = await coinState();
  t.is(after.dispensed - before.dispensed, 5, 'exactly 5 coins physically left the hopper');
  t.is(before.inventory - after.inventory, 5);
  t.is(after.totalDispensed - before.totalDispensed, 5, 'books: total_dispensed +5');
  t.is(after.remoteDispensed - before.remoteDispensed, 5);
  const txn = await agent.peer.waitFor((r) => r.type === 'transaction' && r.payload.data?.command_id === id, 15_000, 'remote_dispense transaction');
  t.like(txn.payload.data, { transaction_type: 'remote_dispense', transaction_id: results[0].result.transaction_id, amounts: { coins_dispensed: 5 } });
  t.is(remoteTransactions(id).length, 1, 'one remote_dispense transaction at the cloud');
});

test.serial('a signed hard restart is not permitted and restarts nothing', async (t) => {
  const pids = () => Promise.all(apps.map((a) => agent.stack.pid(a)));
  const before = await pids();
  const id = newId('HARD');
  const result = await send(topicOf('restart'), id, signed(topicOf('restart'), body(id, 'restart', { restart_type: 'hard', reason: 'e2e' })));
  t.like(result, { status: 'failed', result: { error_code: 'NOT_PERMITTED' } });
  // No supervisor runs here, so a restart that was wrongly asked for would still sit in its request list.
  const requests = await watchUnchanged(() => agent.redis.llen(env.keys.restartRequests), 2_000);
  t.is(requests.after, 0, 'no restart requested');
  t.deepEqual(await pids(), before, 'every app keeps its pid');
  const query = newId('QUERY');
  t.like(await send(topicOf('query'), query, signed(topicOf('query'), body(query, 'query', { query_type: 'heartbeat' }))), { status: 'success' });
});
