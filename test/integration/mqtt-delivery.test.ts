/**
 * The mqtt app against the real Redis and Mosquitto (docs/protocol.md#2-topics to docs/protocol.md#5-device-messages):
 * envelopes on the wire, the retransmission schedule and ACK handling,
 * command results never read back, inbound commands to the `commands` queue.
 */
import test from 'ava';
import { Queue } from 'bullmq';
import { envelopeSchema, heartbeatDataSchema } from '../../shared/messages.js';
import { statusDataSchema } from '../../shared/status-message.js';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { commandTypes } from '../../shared/topics.js';
import { commandJobSchema, producerConnection, queueNames } from '../../queue/index.js';
import { cloudPeer, type CloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor, REDIS_URL, type TestEnv } from '../helpers/env.js';
import { startDevice, txnData, type Device } from '../helpers/mqtt-harness.js';

interface Rig {
  env: TestEnv;
  device: Device;
  cloud: CloudPeer;
  done(): Promise<void>;
}

async function rig(overrides: Record<string, string> = {}, policy: CloudPeer['policy'] = 'all'): Promise<Rig> {
  const env = testEnv(overrides);
  const cloud = await cloudPeer(env.deviceId, { policy });
  const device = await startDevice(env);
  // Connected once the post-connect heartbeat arrives.
  await cloud.waitCount('heartbeat', 1);
  return {
    env,
    device,
    cloud,
    async done() {
      await device.stop();
      await cloud.close();
      await cleanupRedis(env.prefix);
    },
  };
}

const sendsOf = (cloud: CloudPeer, id: string) => cloud.received.filter((r) => r.payload?.message_id === id);

test('a message put on the outbox reaches the cloud in a complete, valid envelope; heartbeat and status follow every connect', async (t) => {
  const r = await rig();
  try {
    const hb = r.cloud.of('heartbeat')[0]!;
    t.true(envelopeSchema.safeParse(hb.payload).success);
    t.true(heartbeatDataSchema.safeParse(hb.payload.data).success, JSON.stringify(hb.payload.data));
    const status = await r.cloud.waitCount('status', 1);
    t.true(statusDataSchema.safeParse(status[0]!.payload.data).success, JSON.stringify(status[0]!.payload.data));

    const sent = await r.device.produce('transaction', txnData(1));
    const got = await r.cloud.waitFor((m) => m.payload?.message_id === sent.message_id);
    const parsed = envelopeSchema.parse(got.payload);
    t.is(got.topic, `coinerex/transaction/${r.env.deviceId}`);
    t.deepEqual(parsed, sent);
    t.is(parsed.device_id, r.env.deviceId);
    t.true(Number.isInteger(parsed.seq));
    // The cloud's ACK settles it.
    await waitFor(async () => (await readDeliveryStats(r.device.redis, r.env.keys)).acked === 1, 5000, 'ack settled');
    t.is((await readDeliveryStats(r.device.redis, r.env.keys)).pending, 0);
  } finally {
    await r.done();
  }
});

test('without ACKs a message is sent exactly 4 times at 0, 1, 4, 10 s and fails at 16 s', async (t) => {
  t.timeout(40_000);
  const r = await rig({ COINEREX_RETRY_SCHEDULE: '1,3,6,6' }, 'none');
  try {
    const m = await r.device.produce('alarm', { alarm_code: 1 });
    await waitFor(async () => (await readDeliveryStats(r.device.redis, r.env.keys)).failed === 1, 25_000, 'give-up');
    const failedAt = Date.now();
    const sends = sendsOf(r.cloud, m.message_id);
    t.is(sends.length, 4);
    const t0 = sends[0]!.at;
    const offsets = sends.map((s) => (s.at - t0) / 1000);
    [0, 1, 4, 10].forEach((want, i) => t.true(Math.abs(offsets[i]! - want) <= Math.max(0.1, want * 0.1), `send ${i + 1} at ${offsets[i]} s, want ${want}`));
    t.true(Math.abs((failedAt - t0) / 1000 - 16) <= 1.6, `failed at ${(failedAt - t0) / 1000} s`);
    for (const s of sends) t.deepEqual(s.payload, sends[0]!.payload, 'same message_id and seq on every send');
    const stored = JSON.parse((await r.device.redis.hget(r.env.keys.outFailed, m.message_id))!);
    t.is(stored.attempts, 4);
    t.deepEqual(JSON.parse(stored.payload), m);
    const stats = await readDeliveryStats(r.device.redis, r.env.keys);
    t.like(stats, { pending: 0, buffered: 0, failed: 1, giveups: 1, retransmits: 3 });
  } finally {
    await r.done();
  }
});

test('an ACK `received` after the second send stops further sends; an ACK `error` does not', async (t) => {
  t.timeout(30_000);
  const r = await rig({ COINEREX_RETRY_SCHEDULE: '1,3,6,6' }, 'none');
  try {
    const settled = await r.device.produce('transaction', txnData(1));
    const erred = await r.device.produce('transaction', txnData(2));
    await waitFor(() => sendsOf(r.cloud, settled.message_id).length === 2 && sendsOf(r.cloud, erred.message_id).length === 2, 5000, 'second sends');
    await r.cloud.ack(settled.message_id, 'received');
    await r.cloud.ack(erred.message_id, 'error');
    // The error-ACKed message keeps its schedule: a third send at 4 s.
    await waitFor(() => sendsOf(r.cloud, erred.message_id).length === 3, 5000, 'third send of the error-ACKed message');
    const t0 = sendsOf(r.cloud, erred.message_id)[0]!.at;
    t.true(Math.abs((sendsOf(r.cloud, erred.message_id)[2]!.at - t0) / 1000 - 4) <= 0.4);
    t.is(sendsOf(r.cloud, settled.message_id).length, 2);
    const stats = await readDeliveryStats(r.device.redis, r.env.keys);
    t.like(stats, { pending: 1, acked: 1 });
    // A duplicate or unknown ACK is ignored.
    await r.cloud.ack(settled.message_id, 'processed');
    await r.cloud.publishRaw(r.cloud.topics.ack, JSON.stringify({ ack_message_id: 'no-such-message', status: 'received' }));
    await r.cloud.publishRaw(r.cloud.topics.ack, '{not json');
    await waitFor(async () => Number(await r.device.redis.hget(r.env.keys.metrics, 'acks_invalid_total')) === 1, 3000, 'invalid ACK counted');
    t.like(await readDeliveryStats(r.device.redis, r.env.keys), { pending: 1, acked: 1 });
  } finally {
    await r.done();
  }
});

test('command results go out on …/commands/{id}/ack and are never taken as commands or ACKs', async (t) => {
  const r = await rig({ COINEREX_RETRY_SCHEDULE: '30,30' }, 'none');
  const conn = producerConnection(REDIS_URL);
  const commands = new Queue(queueNames.commands, { connection: conn, prefix: r.env.keys.bullPrefix });
  try {
    const pending = await r.device.produce('transaction', txnData(1));
    await r.cloud.waitFor((m) => m.payload?.message_id === pending.message_id);
    const result = { timestamp: Math.floor(Date.now() / 1000), device_id: r.env.deviceId, ack_command_id: 'CMD_1', command_type: 'query', status: 'success' as const, result: { ok: true } };
    await r.device.outbox.add('result', { kind: 'command_result', result });
    const got = await r.cloud.waitFor((m) => m.type === 'command_result');
    t.is(got.topic, `coinerex/commands/${r.env.deviceId}/ack`);
    t.deepEqual(got.payload, result);
    // Something on the result topic that looks like an ACK of the pending message, or like a command.
    await r.cloud.publishRaw(r.cloud.topics.commandResult, JSON.stringify({ ack_message_id: pending.message_id, status: 'received', command_id: 'X', command_type: 'lock' }));
    // A command published after it is enqueued, so by then the earlier publication was seen and ignored.
    await r.cloud.command('query', { command_id: 'AFTER', command_type: 'query' });
    await waitFor(async () => (await commands.getJobCounts('wait')).wait === 1, 5000, 'the later command');
    const [job] = await commands.getJobs(['wait']);
    t.is((job!.data as { body: { command_id: string } }).body.command_id, 'AFTER');
    t.like(await readDeliveryStats(r.device.redis, r.env.keys), { pending: 1, acked: 0 });
  } finally {
    await commands.close();
    await conn.quit();
    await r.done();
  }
});

test('a command on each of the five topics lands on the commands queue; invalid JSON is counted and nothing crashes', async (t) => {
  const r = await rig();
  const conn = producerConnection(REDIS_URL);
  const commands = new Queue(queueNames.commands, { connection: conn, prefix: r.env.keys.bullPrefix });
  try {
    await r.cloud.publishRaw(r.cloud.topics.command('lock'), '{"command_id": broken');
    for (const type of commandTypes) await r.cloud.command(type, { command_id: `C_${type}`, command_type: type, data: {} });
    await waitFor(async () => (await commands.getJobCounts('wait')).wait === commandTypes.length, 5000, 'five commands');
    const jobs = (await commands.getJobs(['wait'])).map((j) => commandJobSchema.parse(j.data));
    t.deepEqual(jobs.map((j) => j.commandType).sort(), [...commandTypes].sort());
    for (const j of jobs) {
      t.is(j.topic, `coinerex/commands/${r.env.deviceId}/${j.commandType}`);
      t.deepEqual(j.body, { command_id: `C_${j.commandType}`, command_type: j.commandType, data: {} });
      t.is(j.bytes, Buffer.byteLength(JSON.stringify(j.body)));
    }
    await waitFor(async () => Number(await r.device.redis.hget(r.env.keys.metrics, 'commands_invalid_json_total')) === 1, 5000, 'invalid JSON counted');
    // Still alive: the link keeps working.
    const m = await r.device.produce('transaction', txnData(9));
    await r.cloud.waitFor((x) => x.payload?.message_id === m.message_id);
    t.pass();
  } finally {
    await commands.close();
    await conn.quit();
    await r.done();
  }
});
