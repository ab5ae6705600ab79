/**
 * Hostile CLI arguments for every `coinerex` command: each must exit ≠ 0
 * with a message naming the bad argument, never a stack trace, and must
 * leave nothing behind — no control job (no credit), no command on the
 * broker, no Redis key at all.
 *
 * Spawning Node costs about half a CPU second per run (the commands load
 * BullMQ, mqtt and ioredis), so the bulk runs in-process through each
 * command's `run(args)`, exactly what cli/main.ts calls; a sample of every
 * command, the dispatcher's unknown commands, standard input and bad
 * environments go through the real `bin/coinerex`.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import type { CliCommand } from '../../cli/main.js';
import { ROOT } from '../helpers/pm2.js';
import { cleanupRedis, MQTT_URL, REDIS_URL, testEnv, waitFor } from '../helpers/env.js';

interface Case {
  command: string;
  args: string[];
  /** What stderr must say: the bad argument, by name or value. */
  names: RegExp;
  /** Default 2 (bad arguments). */
  code?: number;
  env?: Record<string, string>;
  stdin?: string;
}

const env = testEnv();
const dir = mkdtempSync(join(tmpdir(), 'coinerex-hostile-cli-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const ed25519 = file('ed25519.pem', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
const x25519 = file('x25519.pem', generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
const publicPem = file('public.pem', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string);
const notJson = file('not-json.json', '{"command_type": "coin_dispense",');
const arrayJson = file('array.json', '[{"command_type":"coin_dispense"}]');
const noType = file('no-type.json', '{"command_id":"X","data":{}}');
const badType = file('bad-type.json', '{"command_id":"X","command_type":"self_destruct","data":{}}');
const protoType = file('proto-type.json', '{"command_id":"X","command_type":"__proto__","data":{}}');
const good = file('good.json', '{"command_id":"X","command_type":"coin_dispense","data":{"coins_to_dispense":1}}');
const regularFile = file('plain-file', 'x');

const q = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The message quotes the bad value. */
const quoted = (v: string) => new RegExp(`"${q(v)}"`);

function generated(): Case[] {
  const cases: Case[] = [];
  const sim = (args: string[], names: RegExp) => cases.push({ command: 'sim', args, names });
  for (const v of ['99', '100.0', '1e2', '-100', '0x64', ' 100', '100 ', 'ten', '１００', '5000', '0', '']) sim(['bill', v], /bill amount/);
  sim(['bill'], /missing bill amount/);
  for (const v of ['20', '2', '50.0', 'fifty', '-50', '']) sim(['coin', v], /coin amount/);
  for (const action of ['fault', 'clear']) {
    for (const v of ['3', '0', '-1', '1.5', '100', 'x', '99999999999999999999', '']) sim([action, v], /error code/);
    sim([action], /missing error code/);
  }
  for (const v of ['ajar', 'OPEN', 'opened', '1', '']) sim(['door', v], /door position/);
  for (const v of ['0', '-5', '100001', '1e3', 'lots', '99999999999999999999', '2.5', '']) sim(['refill', v], /coin count/);
  sim(['jam', 'now'], quoted('now'));
  sim(['bill', '100', '100'], /unexpected argument "100"/);
  sim(['coin', '50', '--force'], quoted('--force'));
  for (const v of ['explode', 'BILL', 'Bill', '--bogus', '-1', '__proto__', 'constructor', 'toString', '']) sim([v], /unknown action/);
  sim([], /missing action/);

  const journal = (args: string[], names: RegExp) => cases.push({ command: 'journal', args, names });
  for (const v of ['0', '-1', '1.5', 'abc', '100001', '1e400', '']) journal(['--limit', v], /--limit/);
  for (const flag of ['--since', '--until']) {
    for (const v of ['yesterday', '-1', '2025-13-45T00:00:00Z', '2025-01-02', '99999999999999999999', '1.5.5', '']) journal([flag, v], new RegExp(flag));
    journal([flag], new RegExp(`${flag} needs a value`));
  }
  journal(['--since', '2025-01-02T00:00:00Z', '--until', '2025-01-01T00:00:00Z'], /--since is after --until/);
  for (const v of ['--bogus', 'extra', '-j', '--JSON']) journal([v], quoted(v));

  for (const command of ['status', 'doctor']) {
    for (const v of ['--bogus', 'json', '--json=1', '-j', '--fix']) cases.push({ command, args: [v], names: quoted(v) });
  }

  const cloud = (args: string[], names: RegExp) => cases.push({ command: 'cloud', args, names });
  cloud([], /missing action/);
  for (const v of ['-5', '0', '1.5', 'abc', '99999999999999999999', '1e3', '']) cloud(['dispense', v], /coin count/);
  cloud(['dispense'], /coin count/);
  cloud(['dispense', '5', '6'], quoted('6'));
  for (const v of ['-1', '0', 'soon', '1e999', '3000000']) cloud(['dispense', '5', '--timeout', v], /timeout/);
  for (const flag of ['--key', '--timeout', '--reason', '--since', '--until', '--limit', '--delay']) cloud(['dispense', '5', flag], new RegExp(`${flag} needs a value`));
  for (const v of ['--bogus', '--no-wait=1', '--KEY']) cloud(['dispense', '5', v], new RegExp(q(v)));
  for (const v of ['-5', 'abc', '0']) cloud(['lock', v], /minutes/);
  cloud(['unlock', 'now'], quoted('now'));
  for (const v of ['everything', 'FULL_STATUS', '']) cloud(['query', v], /query type/);
  for (const v of ['nope', '2025-13-01T00:00:00Z']) cloud(['query', 'transactions', '--since', v], /bad time/);
  cloud(['query', 'transactions', '--limit', '0'], /limit/);
  for (const v of ['reboot', 'HARD', '']) cloud(['restart', v], /restart type/);
  cloud(['restart', 'soft', '--delay', 'x'], /delay/);
  cloud(['config'], /key=value/);
  for (const v of ['=5', 'novalue', '']) cloud(['config', v], /bad setting/);
  for (const v of ['nuke', 'ack', '__proto__', '']) cloud(['send', v], /command type/);
  for (const v of ['[1]', 'null', '5', '"text"']) cloud(['send', 'lock', v], /data must be a JSON object/);
  for (const v of ['maybe', 'delay', 'delay soon', 'ack-all now']) cloud(['policy', ...v.split(' ')], /bad policy/);
  cloud(['policy'], /bad policy/);
  cloud(['explode'], /unknown action "explode"/);

  const keygen = (args: string[], names: RegExp, code = 2) => cases.push({ command: 'keygen', args, names, code });
  keygen(['--out'], /--out/);
  keygen(['--out', ''], /--out/);
  keygen(['--out', '  '], /--out/);
  keygen(['--bogus'], /--bogus/);
  keygen(['extra'], /extra/);
  keygen(['--force=yes'], /--force/);
  keygen(['--out', regularFile], new RegExp(`${q(regularFile)}: not a directory`), 1);
  keygen(['--out', join(regularFile, 'sub')], new RegExp(q(regularFile)), 1);

  const sign = (args: string[], names: RegExp) => cases.push({ command: 'sign', args, names });
  sign([], /--key, --device and one command file/);
  sign(['--key'], /--key/);
  sign(['--key', ed25519, '--device'], /--device/);
  sign(['--key', ed25519, '--device', 'D'], /one command file/);
  sign(['--key', ed25519, '--device', 'D', good, good], /one command file/);
  sign(['--key', join(dir, 'missing.pem'), '--device', 'D', good], /--key .*missing\.pem/);
  sign(['--key', regularFile, '--device', 'D', good], /--key .*not a readable PEM/);
  sign(['--key', publicPem, '--device', 'D', good], /--key .*public\.pem/);
  sign(['--key', x25519, '--device', 'D', good], /--key .*expected an Ed25519 key/);
  for (const v of ['a/b', '', 'x'.repeat(65), 'a b', '#', '+', 'dev.1']) sign(['--key', ed25519, '--device', v, good], /--device/);
  for (const v of ['a/b', '+', '', 'coin/x']) sign(['--key', ed25519, '--device', 'D', '--prefix', v, good], /--prefix/);
  sign(['--key', ed25519, '--device', 'D', join(dir, 'missing.json')], /cannot read .*missing\.json/);
  sign(['--key', ed25519, '--device', 'D', notJson], /not JSON/);
  sign(['--key', ed25519, '--device', 'D', arrayJson], /must be a JSON object/);
  for (const f of [noType, badType, protoType]) sign(['--key', ed25519, '--device', 'D', f], /command_type must be one of/);
  sign(['--key', ed25519, '--device', 'D', '--bogus', good], /--bogus/);
  return cases;
}

/** Through the real executable: a sample of each command, the dispatcher, standard input, bad environments. */
const spawned: Case[] = [
  ...['Sim', 'SIM', 'sim;rm', '../cli/main', '__proto__', 'constructor', 'toString', '--version', '-x', 'status2', 'x'.repeat(5000)].map(
    (name): Case => ({ command: name, args: [], names: new RegExp(`unknown command "${q(name)}"`) }),
  ),
  { command: 'sim', args: ['bill', '99'], names: /bad bill amount "99"/ },
  { command: 'sim', args: ['refill', '1e3'], names: /bad coin count "1e3"/ },
  { command: 'journal', args: ['--limit', '0'], names: /--limit/ },
  { command: 'status', args: ['--bogus'], names: /unexpected "--bogus"/ },
  { command: 'doctor', args: ['--fix'], names: /unexpected "--fix"/ },
  { command: 'cloud', args: ['dispense', '99999999999999999999'], names: /bad coin count/ },
  // Spawned only: Node 20's recursive mkdir spins forever here, and a spin in-process would hang the test.
  { command: 'keygen', args: ['--out', '/proc/coinerex-keys'], names: /\/proc\/coinerex-keys/, code: 1 },
  { command: 'sign', args: ['--key', ed25519, '--device', 'D', '-'], names: /standard input is not JSON/, stdin: '{"command_type":' },
  { command: 'sign', args: ['--key', ed25519, '--device', 'D', '-'], names: /must be a JSON object/, stdin: 'null' },
  // A bad environment stops a command that needs the configuration, naming the variable (exit 78).
  { command: 'sim', args: ['bill', '100'], names: /COINEREX_DEVICE_ID/, code: 78, env: { COINEREX_DEVICE_ID: 'a/b' } },
  { command: 'status', args: [], names: /COINEREX_REDIS_URL/, code: 78, env: { COINEREX_REDIS_URL: 'http://h:6379' } },
  { command: 'journal', args: [], names: /COINEREX_TIMEZONE/, code: 78, env: { COINEREX_TIMEZONE: 'Mars/Olympus' } },
  { command: 'cloud', args: ['dispense', '5'], names: /COINEREX_MQTT_URL/, code: 78, env: { COINEREX_MQTT_URL: 'http://h' } },
  { command: 'cloud', args: ['policy', 'ack-all'], names: /COINEREX_OFFLINE_LIMIT/, code: 78, env: { COINEREX_OFFLINE_LIMIT: '-1' } },
  { command: 'doctor', args: [], names: /COINEREX_HEARTBEAT_SECONDS/, code: 78, env: { COINEREX_HEARTBEAT_SECONDS: 'often' } },
];

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stack frame line (`    at fn (file:1:2)`) or Node's own crash banner. */
const stackTrace = /^\s+at .+(:\d+:\d+\)?|<anonymous>\)?)$|node:internal|Node\.js v\d/m;

function check(t: ExecutionContext, c: Case, out: Outcome): void {
  const what = `coinerex ${c.command.slice(0, 40)} ${c.args.map((a) => JSON.stringify(a).slice(0, 40)).join(' ')}`;
  t.is(out.code, c.code ?? 2, `${what}: exit code (stderr: ${out.stderr.slice(0, 200)})`);
  t.regex(out.stderr, c.names, `${what}: names the bad argument`);
  t.notRegex(out.stderr + out.stdout, stackTrace, `${what}: no stack trace`);
  t.notRegex(out.stdout, /^(queued|sent|private key:)/m, `${what}: did nothing`);
}

let seen: string[] = [];
let broker: mqtt.MqttClient;
const saved: Record<string, string | undefined> = {};

test.before(async () => {
  // The in-process commands read their configuration from process.env, as the real ones do.
  for (const [k, v] of Object.entries(env.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  broker = await mqtt.connectAsync(MQTT_URL, { clientId: `hostile-cli-${process.pid}` });
  broker.on('error', () => undefined);
  broker.on('message', (topic) => seen.push(topic));
  await broker.subscribeAsync(`+/commands/${env.deviceId}/#`);
});

test.after.always(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await broker?.endAsync();
  rmSync(dir, { recursive: true, force: true });
  await cleanupRedis(env.prefix);
});

/** Runs a command's `run(args)` here with its output captured, as cli/main.ts would (a throw prints its message, exit 1). */
async function runInProcess(command: string, args: string[]): Promise<Outcome> {
  const mod = (await import(`../../cli/commands/${command}.js`)) as CliCommand;
  let stdout = '';
  let stderr = '';
  const { write: outWrite } = process.stdout;
  const { write: errWrite } = process.stderr;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await mod.run(args), stdout, stderr };
  } catch (err) {
    return { code: 1, stdout, stderr: `${stderr}coinerex: ${err instanceof Error ? err.message : String(err)}\n` };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
}

function runBinary(c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(ROOT, 'bin', 'coinerex'), c.command, ...c.args],
      { cwd: dir, env: { ...process.env, ...env.env, ...c.env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(c.stdin ?? '');
  });
}

const cases = generated();

test.serial(`${cases.length} generated bad arguments, through each command's run(): refused by name, no stack trace`, async (t) => {
  t.true(cases.length >= 150, `${cases.length} cases`);
  const commands = new Set(cases.map((c) => c.command));
  t.deepEqual([...commands].sort(), ['cloud', 'doctor', 'journal', 'keygen', 'sign', 'sim', 'status']);
  for (const c of cases) check(t, c, await runInProcess(c.command, c.args));
});

test.serial(`${spawned.length} bad invocations of bin/coinerex: refused by name, no stack trace`, async (t) => {
  t.timeout(90_000);
  // Two at a time: the machine is shared.
  const queue = [...spawned];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) check(t, c, await runBinary(c));
  };
  await Promise.all([worker(), worker()]);
});

test.serial('nothing was queued, published or written: no control job, no command, no Redis key', async (t) => {
  // A last valid publish through the same subscription proves the subscriber was listening.
  const probe = `coinerex/commands/${env.deviceId}/probe`;
  await broker.publishAsync(probe, '{}');
  await waitFor(() => seen.includes(probe), 5000, 'the probe').catch(() => undefined);
  t.deepEqual(seen, [probe], 'no command reached the broker');
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${env.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    t.deepEqual(keys, [], 'no key under the device prefix (no control job, no state)');
  } finally {
    redis.disconnect();
  }
  seen = [];
});
