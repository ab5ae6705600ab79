/**
 * The pipeline as the business app runs it (startCommandPipeline): a BullMQ
 * worker on the `commands` queue fed the way the mqtt app feeds it, the key
 * read at start, a loud warning without one, and an orderly close.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { systemClock } from '../../shared/clock.js';
import { loadConfig } from '../../shared/config.js';
import { redisMetrics } from '../../shared/metrics.js';
import { makeQueue } from '../../queue/connection.js';
import type { CommandJob, OutboxJob } from '../../queue/jobs.js';
import { queueNames } from '../../queue/names.js';
import { startCommandPipeline, startCommandVerifier } from '../../workers/business/commands/index.js';
import { cleanupRedis, REDIS_URL, testEnv, waitFor, watchUnchanged } from '../helpers/env.js';
import { createCommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { commandsHarness, keyPair, signed, TestMachine } from '../helpers/commands-harness.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coinerex-cmd-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function setup(env: Record<string, string> = {}) {
  const e = testEnv({ COINEREX_LOG_LEVEL: 'silent', ...env });
  const redis = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
  const outbox = makeQueue<OutboxJob>(queueNames.outbox, redis, e.keys.bullPrefix);
  const commands = makeQueue<CommandJob>(queueNames.commands, redis, e.keys.bullPrefix);
  const machine = new TestMachine();
  const { log, lines } = capture();
  // What workers/business/main.ts hands the pipeline.
  const verifier = startCommandVerifier(e.config, log);
  const connections = { commands: redis.duplicate(), dispense: redis.duplicate() };
  const deps = { config: e.config, log, keys: e.keys, redis, machine, outbox: outbox as Queue<OutboxJob>, clock: systemClock, metrics: redisMetrics(redis, e.keys), verifier, connections };
  const results = async () =>
    (await outbox.getWaiting(0, -1)).flatMap((j) => (j.data.kind === 'command_result' ? [j.data.result] : []));
  const send = (type: string, body: unknown) =>
    commands.add('command', { topic: `${e.config.topicPrefix}/commands/${e.deviceId}/${type}`, commandType: type, receivedAt: Date.now(), bytes: JSON.stringify(body).length, body });
  const close = async () => {
    await verifier.close();
    for (const c of Object.values(connections)) c.disconnect();
    await commands.close();
    await outbox.close();
    redis.disconnect();
    await cleanupRedis(e.prefix);
  };
  return { e, redis, deps, machine, lines, results, send, close };
}

/** Makes the machine's dispenses for which `held` is true wait until the returned function is called. */
function holdDispenses(machine: TestMachine, held: (commandId: string) => boolean): () => void {
  const pay = machine.remoteDispense.bind(machine);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  machine.remoteDispense = async (req) => {
    if (held(req.commandId)) await gate;
    return pay(req);
  };
  return release;
}

test('without a key: a loud warning at start, and the guide test command runs through the queue', async (t) => {
  const s = await setup();
  const pipeline = await startCommandPipeline(s.deps);
  try {
    const warning = s.lines.find((l) => l.level === 40 && /NOT AUTHENTICATED/.test(l.msg));
    t.truthy(warning, 'warned');
    t.regex(warning!.msg, new RegExp(s.e.deviceId));
    await s.send('coin_dispense', { command_id: 'TEST_001', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } });
    const [result] = await waitFor(async () => ((await s.results()).length > 0 ? s.results() : null), 10_000, 'result');
    t.like(result, { ack_command_id: 'TEST_001', status: 'success', result: { coins_dispensed: 5 } });
    t.is(s.machine.paid, 5);
  } finally {
    await pipeline.close();
    await s.close();
  }
});

test('with a key: five queued deliveries of one signed dispense pay once, five identical results', async (t) => {
  const { publicKeyPem, privateKey } = keyPair();
  const keyFile = join(dir, 'pub.pem');
  await writeFile(keyFile, publicKeyPem);
  const s = await setup({ COINEREX_COMMAND_PUBLIC_KEY: keyFile });
  const pipeline = await startCommandPipeline(s.deps);
  try {
    t.falsy(s.lines.find((l) => /NOT AUTHENTICATED/.test(l.msg)));
    const topic = `${s.e.config.topicPrefix}/commands/${s.e.deviceId}/coin_dispense`;
    const body = signed(topic, { command_id: 'CMD_Q1', command_type: 'coin_dispense', data: { coins_to_dispense: 9 } }, privateKey);
    await s.send('coin_dispense', { command_id: 'CMD_Q0', command_type: 'coin_dispense', data: { coins_to_dispense: 9 } });
    for (let i = 0; i < 5; i++) await s.send('coin_dispense', body);
    const results = await waitFor(async () => ((await s.results()).length >= 6 ? s.results() : null), 10_000, '6 results');
    t.like(results[0], { ack_command_id: 'CMD_Q0', status: 'failed', result: { error_code: 'UNAUTHENTICATED' } });
    for (const r of results.slice(1)) t.deepEqual(r, results[1]);
    t.like(results[1], { ack_command_id: 'CMD_Q1', status: 'success' });
    t.is(s.machine.paid, 9);
  } finally {
    await pipeline.close();
    await s.close();
  }
});

test('close() lets the command in hand finish and store its result, and is idempotent', async (t) => {
  const s = await setup();
  const release = holdDispenses(s.machine, () => true);
  const pipeline = await startCommandPipeline(s.deps);
  try {
    await s.send('coin_dispense', { command_id: 'SLOW', command_type: 'coin_dispense', data: { coins_to_dispense: 2 } });
    await waitFor(() => s.redis.exists(s.e.keys.command('SLOW')), 10_000, 'claimed');
    const closing = pipeline.close();
    t.is(pipeline.close(), closing);
    let closed = false;
    void closing.then(() => (closed = true));
    t.false((await watchUnchanged(() => closed, 200)).after, 'close waits for the command in hand');
    release();
    await closing;
    t.is(s.machine.paid, 2);
    t.like(JSON.parse((await s.redis.get(s.e.keys.command('SLOW')))!), { state: 'done', result: { status: 'success' } });
    t.is((await s.results()).length, 1);
  } finally {
    await s.close();
  }
});

test('lock, query and config are answered while a dispense waits; dispenses keep their order', async (t) => {
  const s = await setup();
  const release = holdDispenses(s.machine, (id) => id === 'STUCK');
  const pipeline = await startCommandPipeline(s.deps);
  t.teardown(release);
  try {
    await s.send('coin_dispense', { command_id: 'STUCK', command_type: 'coin_dispense', data: { coins_to_dispense: 2 } });
    await s.send('coin_dispense', { command_id: 'AFTER', command_type: 'coin_dispense', data: { coins_to_dispense: 3 } });
    await waitFor(() => s.redis.exists(s.e.keys.command('STUCK')), 10_000, 'the dispense claimed and waiting');
    await s.send('lock', { command_id: 'L1', command_type: 'lock', data: { action: 'lock' } });
    await s.send('query', { command_id: 'Q1', command_type: 'query', data: { query_type: 'accounting' } });
    await s.send('config', { command_id: 'C1', command_type: 'config', data: { heartbeat_interval: 120 } });
    const early = await waitFor(async () => ((await s.results()).length >= 3 ? s.results() : null), 10_000, 'lock, query and config answered');
    t.deepEqual(early.map((r) => r.ack_command_id).sort(), ['C1', 'L1', 'Q1']);
    t.is(s.machine.paid, 0, 'the dispenses still wait, in order');
    release();
    const all = await waitFor(async () => ((await s.results()).length >= 5 ? s.results() : null), 10_000, 'dispenses answered');
    t.deepEqual(all.slice(3).map((r) => r.ack_command_id), ['STUCK', 'AFTER']);
  } finally {
    await pipeline.close();
    await s.close();
  }
});

test('a forged dispense is refused in the commands lane: answered at once, no payout-lane job', async (t) => {
  const { publicKeyPem, privateKey } = keyPair();
  const keyFile = join(dir, 'pub-screen.pem');
  await writeFile(keyFile, publicKeyPem);
  const s = await setup({ COINEREX_COMMAND_PUBLIC_KEY: keyFile });
  const release = holdDispenses(s.machine, (id) => id === 'STUCK');
  const pipeline = await startCommandPipeline(s.deps);
  const lane = makeQueue<CommandJob>(queueNames.commandsDispense, s.redis, s.e.keys.bullPrefix);
  t.teardown(release);
  try {
    const topic = `${s.e.config.topicPrefix}/commands/${s.e.deviceId}/coin_dispense`;
    const dispense = (id: string) => ({ command_id: id, command_type: 'coin_dispense', data: { coins_to_dispense: 2 } });
    await s.send('coin_dispense', signed(topic, dispense('STUCK'), privateKey));
    await waitFor(() => s.redis.exists(s.e.keys.command('STUCK')), 10_000, 'the signed dispense claimed and waiting');
    await s.send('coin_dispense', signed(topic, dispense('FORGED'), generateKeyPairSync('ed25519').privateKey));
    const [forged] = await waitFor(async () => ((await s.results()).length >= 1 ? s.results() : null), 10_000, 'the forgery answered');
    t.like(forged, { ack_command_id: 'FORGED', result: { error_code: 'UNAUTHENTICATED' } });
    t.is(s.machine.paid, 0, 'the signed dispense still waits');
    const laneJobs = await lane.getJobCounts('waiting', 'active', 'completed', 'failed');
    t.is(Object.values(laneJobs).reduce((a, b) => a + b, 0), 1, 'only the signed dispense entered the payout lane');
    release();
    const all = await waitFor(async () => ((await s.results()).length >= 2 ? s.results() : null), 10_000, 'the signed dispense answered');
    t.like(all[1], { ack_command_id: 'STUCK', status: 'success' });
    t.is(s.machine.paid, 2);
  } finally {
    await pipeline.close();
    await lane.close();
    await s.close();
  }
});

test('an unusable key stops the start with a message naming the variable', async (t) => {
  const base = testEnv().env;
  const privatePem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(join(dir, 'private.pem'), privatePem);
  await writeFile(join(dir, 'ec.pem'), ecPem);
  await writeFile(join(dir, 'junk.pem'), 'not a key');
  const cases: Array<[string, RegExp]> = [
    [join(dir, 'missing.pem'), /COINEREX_COMMAND_PUBLIC_KEY .*cannot read/],
    [join(dir, 'private.pem'), /private key/],
    [join(dir, 'ec.pem'), /expected an Ed25519 key/],
    [join(dir, 'junk.pem'), /not a PEM public key/],
  ];
  for (const [file, message] of cases) {
    const config = loadConfig({ ...base, COINEREX_COMMAND_PUBLIC_KEY: file });
    t.throws(() => startCommandVerifier(config, pino({ level: 'silent' })), { message }, file);
  }
});

test('BUSY: a stuck or saturated verification pool refuses without executing or spending the id', async (t) => {
  const stuck = createCommandVerifier({ publicKeyPem: null, taskTimeoutMs: 0 });
  const healthy = createCommandVerifier({ publicKeyPem: null });
  const saturated = createCommandVerifier({ publicKeyPem: null, maxQueue: 0 });
  let useStuck = true;
  const h = await commandsHarness({ check: (task) => (useStuck ? stuck : healthy).check(task), close: async () => undefined });
  try {
    const body = { command_id: 'BUSY_1', command_type: 'coin_dispense', data: { coins_to_dispense: 2 } };
    t.like(await h.run('coin_dispense', body), { outcome: 'refused', code: 'BUSY' });
    t.like((await h.results())[0], { ack_command_id: 'BUSY_1', status: 'failed', result: { error_code: 'BUSY' } });
    t.is(h.machine.paid, 0);
    useStuck = false;
    t.like(await h.run('coin_dispense', body), { outcome: 'success' }, 'the id was not spent');
    t.is(h.machine.paid, 2);

    const task = { topic: 't', topicType: 'query', body: { command_id: 'Q', command_type: 'query' } };
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => saturated.check(task)));
    t.true(outcomes.some((o) => !o.ok && o.code === 'BUSY'), 'refused beyond the queue bound');
    t.true(outcomes.some((o) => o.ok), 'the rest verified');
  } finally {
    await h.close();
    await Promise.all([stuck.close(), healthy.close(), saturated.close()]);
  }
});
