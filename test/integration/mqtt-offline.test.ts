/**
 * Offline buffer end to end (docs/protocol.md#offline-buffer): a private Mosquitto is stopped,
 * 150 ACK-required messages are produced, the broker returns, and the cloud
 * receives exactly the newest 100 in production order after a fresh
 * heartbeat and status; the 50 dropped are counted.
 *
 * The device reaches the broker through a gate (a TCP relay the test opens)
 * so it reconnects only once the cloud peer is back and subscribed: QoS 0
 * messages published before a subscriber exists are lost by any broker.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { freePort } from '../helpers/app-process.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startDevice, txnData } from '../helpers/mqtt-harness.js';

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

async function startBroker(conf: string, port: number): Promise<ChildProcess> {
  const p = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  await waitFor(() => accepting(port), 5000, 'private mosquitto');
  return p;
}

async function stopBroker(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

/** A relay to the broker that refuses connections while closed. */
function gate(listenPort: number, brokerPort: number): { server: Server; open: boolean; close(): Promise<void> } {
  const sockets = new Set<Socket>();
  const g = {
    open: true,
    server: createServer((down) => {
      if (!g.open) return void down.destroy();
      const up = connect(brokerPort, '127.0.0.1');
      for (const s of [down, up]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      down.pipe(up).pipe(down);
    }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        g.server.close(() => r());
      }),
  };
  g.server.listen(listenPort, '127.0.0.1');
  return g;
}

/** A device and a cloud peer on a private broker that the test can stop and start again. */
async function privateBrokerRig() {
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-mosq-'));
  const [brokerPort, gatePort] = [await freePort(), await freePort()];
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\n`);
  let broker = await startBroker(conf, brokerPort);
  const relay = gate(gatePort, brokerPort);
  const env = testEnv({ COINEREX_MQTT_RECONNECT_MAX_MS: '400' });
  const cloud = await cloudPeer(env.deviceId, { url: `mqtt://127.0.0.1:${brokerPort}` });
  const device = await startDevice(env, { mqttUrl: `mqtt://127.0.0.1:${gatePort}` });
  await cloud.waitCount('heartbeat', 1);
  return {
    env,
    cloud,
    device,
    stats: () => readDeliveryStats(device.redis, env.keys),
    async brokerDown() {
      relay.open = false;
      await stopBroker(broker);
    },
    /** Restarts the broker and lets the device in once the cloud peer is subscribed again. */
    async brokerBack() {
      broker = await startBroker(conf, brokerPort);
      // The peer is back and subscribed when it receives its own probe.
      await waitFor(async () => {
        await cloud.publishRaw(`coinerex/probe/${env.deviceId}`, 'probe').catch(() => undefined);
        return cloud.of('probe').length > 0;
      }, 10_000, 'cloud peer back', 200);
      relay.open = true;
    },
    async done() {
      await device.stop();
      await cloud.close();
      await relay.close();
      await stopBroker(broker);
      await rm(dir, { recursive: true, force: true });
      await cleanupRedis(env.prefix);
    },
  };
}

test('broker down: of 150 messages the newest 100 reach the cloud in production order after heartbeat and status; 50 dropped and counted', async (t) => {
  t.timeout(60_000);
  const r = await privateBrokerRig();
  const { cloud, device, env } = r;
  try {
    await r.brokerDown();
    const produced = [];
    for (let i = 1; i <= 150; i++) produced.push(await device.produce('transaction', txnData(i)));
    await waitFor(async () => (await r.stats()).dropped === 50, 15_000, '50 dropped');
    t.like(await r.stats(), { buffered: 100, pending: 0, dropped: 50 });
    await waitFor(async () => Number(await device.redis.hget(env.keys.metrics, 'offline_dropped_total')) === 50, 5000, 'offline_dropped_total 50');

    const before = cloud.received.length;
    await r.brokerBack();
    await cloud.waitCount('transaction', 100, 20_000);
    await waitFor(async () => (await r.stats()).acked === 100, 10_000, 'all ACKed');
    const txns = cloud.of('transaction');
    t.is(txns.length, 100, 'exactly 100, no duplicates');
    t.deepEqual(
      txns.map((m) => m.payload.message_id),
      produced.slice(50).map((e) => e.message_id),
      'the newest 100 in production order',
    );
    t.deepEqual(txns.map((m) => m.payload), produced.slice(50), 'unchanged message_id and seq');
    const after = cloud.received.slice(before).filter((m) => m.type !== 'probe' && m.type !== 'ack');
    t.is(after[0]!.type, 'heartbeat', 'a fresh heartbeat first');
    t.not(after[0]!.payload.data.status, 'offline');
    t.is(after[1]!.type, 'status', 'then the status');
    t.like(await r.stats(), { buffered: 0, pending: 0, dropped: 50, acked: 100 });
  } finally {
    await r.done();
  }
});

test('a message in flight when the link drops goes back to the buffer, counts toward its limit, and is sent first again on reconnect', async (t) => {
  t.timeout(60_000);
  const r = await privateBrokerRig();
  const { cloud, device } = r;
  try {
    cloud.policy = 'none';
    const inFlight = await device.produce('transaction', txnData(0));
    await cloud.waitFor((m) => m.payload?.message_id === inFlight.message_id);
    await r.brokerDown();
    await waitFor(async () => (await r.stats()).buffered === 1, 5_000, 'in-flight message back in the buffer');
    const produced = [];
    for (let i = 1; i <= 99; i++) produced.push(await device.produce('transaction', txnData(i)));
    await waitFor(async () => (await r.stats()).buffered === 100, 15_000, 'buffer full');
    t.like(await r.stats(), { buffered: 100, pending: 0, dropped: 0 }, 'the in-flight message counts in the buffer');
    cloud.policy = 'all';
    const before = cloud.received.length;
    await r.brokerBack();
    await waitFor(async () => (await r.stats()).acked === 100, 20_000, 'all ACKed');
    const resent = cloud.received.slice(before).filter((m) => m.type === 'transaction');
    t.deepEqual(resent.map((m) => m.payload.message_id), [inFlight, ...produced].map((e) => e.message_id), 'oldest first, then the rest in order');
    t.deepEqual(resent[0]!.payload, inFlight, 'same message_id and seq');
  } finally {
    await r.done();
  }
});
