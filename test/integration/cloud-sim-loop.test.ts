/**
 * The cloud simulator on the real broker: ACKs ACK-required messages per the
 * policy switched with `coinerex cloud policy`, prints one line per message;
 * and `coinerex cloud` sends a signed command and prints the device's result.
 * The device side is played by a plain MQTT client.
 */
import test from 'ava';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { ROOT } from '../helpers/pm2.js';
import { testEnv, cleanupRedis, waitFor, MQTT_URL } from '../helpers/env.js';
import { ackRequired, topics } from '../../shared/topics.js';
import { verifyCommandSignature } from '../../shared/command-signature.js';

const env = testEnv();
const t0 = topics('coinerex', env.deviceId);
const childEnv = { ...process.env, ...env.env };
const keyDir = mkdtempSync(join(tmpdir(), 'coinerex-cloud-'));

let sim: ChildProcess;
let lines: string[] = [];
let device: MqttClient;
const acks: any[] = [];

const cli = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(join(ROOT, 'bin', 'coinerex'), ['cloud', ...args], { env: childEnv }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

const envelope = (type: string, data: Record<string, unknown>) => ({
  timestamp: Math.floor(Date.now() / 1000),
  device_id: env.deviceId,
  message_id: randomUUID(),
  message_type: type,
  version: '1.3.2',
  ...(ackRequired.has(type) ? { seq: 1 } : {}),
  data,
});

const transaction = (id: string) =>
  envelope('transaction', {
    transaction_type: 'exchange',
    transaction_id: id,
    amounts: { bills_inserted: 500, coins_inserted: 0, coins_dispensed: 50, transaction_amount: 500, coin_value: 10 },
    balance: { before: 0, after: 500 },
    timing: { start_time: 1757644200, dispense_time: 1757644201, duration_ms: 900 },
    success: true,
  });

test.before(async () => {
  device = await mqtt.connectAsync(MQTT_URL, { clientId: `${env.deviceId}-dev`, reconnectPeriod: 0 });
  device.on('message', (topic, buf) => {
    if (topic === t0.ack) acks.push({ ...JSON.parse(buf.toString()), at: Date.now() });
  });
  await device.subscribeAsync(t0.ack);
  sim = spawn(process.execPath, [join(ROOT, 'dist', 'cloud-sim', 'main.js')], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  sim.stdout!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  await waitFor(() => lines.find((l) => l.includes('cloud simulator for')), 10_000, 'cloud-sim start');
});

test.after.always(async () => {
  sim?.kill('SIGTERM');
  await device?.endAsync();
  await cleanupRedis(env.prefix);
  rmSync(keyDir, { recursive: true, force: true });
});

const sendAndWaitLine = async (msg: ReturnType<typeof envelope>, type: string) => {
  await device.publishAsync(t0.outbound(type as 'transaction'), JSON.stringify(msg));
  const id = (msg.data as { transaction_id?: string }).transaction_id;
  return waitFor(() => lines.find((l) => l.includes(type) && (!id || l.includes(id))), 5_000, `${type} line`);
};

test.serial('ACKs an ACK-required message and prints one readable line', async (t) => {
  const msg = transaction('TXN_20250912_103000_001');
  const line = await sendAndWaitLine(msg, 'transaction');
  const ack = await waitFor(() => acks.find((a) => a.ack_message_id === msg.message_id), 5_000, 'ack');
  t.is(ack.status, 'received');
  t.regex(line, /transaction seq=1 id=TXN_20250912_103000_001 kind=exchange bills=500 coins_in=0 dispensed=50 balance=0->500 success=true -> acked/);
});

test.serial('heartbeats are printed but never ACKed', async (t) => {
  const hb = envelope('heartbeat', { status: 'online', uptime_seconds: 5, network_quality: 'good', active_issues: [] });
  const line = await sendAndWaitLine(hb, 'heartbeat');
  t.regex(line, /heartbeat status=online uptime=5 network=good issues=0$/);
  // The next ACK-required message is ACKed, the heartbeat never was.
  const msg = transaction('TXN_20250912_103000_002');
  await sendAndWaitLine(msg, 'transaction');
  await waitFor(() => acks.find((a) => a.ack_message_id === msg.message_id), 5_000, 'ack');
  t.falsy(acks.find((a) => a.ack_message_id === hb.message_id));
});

test.serial('policy ack-none, error and delay switch at run time', async (t) => {
  const set = await cli('policy', 'ack-none');
  t.is(set.code, 0, set.stderr + set.stdout);
  const none = transaction('TXN_20250912_103000_003');
  t.regex(await sendAndWaitLine(none, 'transaction'), /not acked \(policy ack-none\)/);

  t.is((await cli('policy', 'error')).code, 0);
  const err = transaction('TXN_20250912_103000_004');
  await sendAndWaitLine(err, 'transaction');
  const errAck = await waitFor(() => acks.find((a) => a.ack_message_id === err.message_id), 5_000, 'error ack');
  t.is(errAck.status, 'error');
  t.truthy(errAck.error_message);

  t.is((await cli('policy', 'delay', '400')).code, 0);
  const slow = transaction('TXN_20250912_103000_005');
  const sentAt = Date.now();
  await sendAndWaitLine(slow, 'transaction');
  const slowAck = await waitFor(() => acks.find((a) => a.ack_message_id === slow.message_id), 5_000, 'delayed ack');
  t.true(slowAck.at - sentAt >= 400, `acked after ${slowAck.at - sentAt} ms`);
  t.is(slowAck.status, 'received');

  t.is((await cli('policy', 'ack-all')).code, 0);
  t.falsy(acks.find((a) => a.ack_message_id === none.message_id));
  t.is((await cli('policy', 'sometimes')).code, 2);
});

test.serial('`coinerex cloud dispense` sends a signed command and prints the device result', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyPath = join(keyDir, 'cloud.key');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const commandTopic = t0.command('coin_dispense');
  await device.subscribeAsync(commandTopic);
  const received = new Promise<any>((resolve) => {
    device.on('message', (topic, buf) => {
      if (topic !== commandTopic) return;
      const cmd = JSON.parse(buf.toString());
      resolve(cmd);
      // The device answers as docs/protocol.md#7-commands says.
      void device.publishAsync(
        t0.commandResult,
        JSON.stringify({ timestamp: Math.floor(Date.now() / 1000), device_id: env.deviceId, ack_command_id: cmd.command_id, command_type: 'coin_dispense', status: 'success', result: { coins_dispensed: 5 } }),
      );
    });
  });
  const out = await cli('dispense', '5', '--key', keyPath);
  const cmd = await received;
  t.is(out.code, 0, out.stderr);
  t.is(cmd.command_type, 'coin_dispense');
  t.is(cmd.data.coins_to_dispense, 5);
  t.true(cmd.requires_ack);
  t.true(verifyCommandSignature(commandTopic, cmd, publicKey), 'signature verifies for the topic');
  t.false(verifyCommandSignature(t0.command('restart'), cmd, publicKey), 'and only for it');
  t.regex(out.stdout, new RegExp(`sent coin_dispense ${cmd.command_id} \\(signed\\)`));
  t.regex(out.stdout, /success: \{"coins_dispensed":5\}/);
  // The simulator prints the result line too.
  await waitFor(() => lines.find((l) => l.includes(`command_result command=${cmd.command_id}`)), 5_000, 'result line');
});

test.serial('`coinerex cloud` without a reachable agent times out with exit 75; bad arguments exit 2', async (t) => {
  const out = await cli('lock', '30', '--timeout', '0.5');
  t.is(out.code, 75);
  t.regex(out.stderr, /no result within 0.5 s/);
  t.is((await cli('dispense', 'five')).code, 2);
  t.is((await cli('query', 'transactions', '--since', 'yesterday')).code, 2);
});
