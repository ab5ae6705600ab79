/**
 * Command results while the link is down (issue 11 point 8): they wait,
 * bounded (the oldest beyond COINEREX_RESULT_BUFFER_LIMIT dropped and
 * counted), and go out in order on reconnect.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricField } from '../../shared/metrics.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { privateBroker } from '../helpers/private-services.js';
import { startDevice } from '../helpers/mqtt-harness.js';

const result = (n: number) => ({
  timestamp: 1_765_000_000 + n,
  device_id: 'D',
  ack_command_id: `CMD_${n}`,
  command_type: 'lock',
  status: 'success' as const,
  result: { n },
});

test('command results produced while the link is down are kept (bounded, drops counted) and sent in order on reconnect', async (t) => {
  t.timeout(60_000);
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-results-'));
  // The cloud's session outlives its connection and the broker's restart: whenever the device is back, its results wait for the cloud.
  const broker = await privateBroker(dir, { keepSessions: true });
  await broker.start();
  const env = testEnv({ COINEREX_RESULT_BUFFER_LIMIT: '5', COINEREX_MQTT_RECONNECT_MAX_MS: '1000' });
  const session = `cloud-${env.deviceId}`;
  // Subscribed before the device starts: its first heartbeat (QoS 0) is out before startDevice returns.
  let cloud = await cloudPeer(env.deviceId, { url: broker.url, session });
  const device = await startDevice(env, { mqttUrl: broker.url });
  try {
    await cloud.waitCount('heartbeat', 1);
    await device.outbox.add('r', { kind: 'command_result', result: result(0) });
    await cloud.waitFor((r) => r.type === 'command_result' && r.payload.ack_command_id === 'CMD_0', 5_000, 'a result while up');
    await cloud.close();

    await broker.stop();
    for (let n = 1; n <= 7; n++) await device.outbox.add('r', { kind: 'command_result', result: result(n) });
    const dropped = () => device.redis.hget(env.keys.metrics, metricField('command_results_dropped_total'));
    await waitFor(async () => Number(await dropped()) === 2, 10_000, 'two oldest dropped');
    t.is(await device.redis.llen(env.keys.resultBuffer), 5);

    await broker.start();
    cloud = await cloudPeer(env.deviceId, { url: broker.url, session });
    try {
      const got = await waitFor(() => {
        const ids = cloud.of('command_result').map((r) => r.payload.ack_command_id);
        return ids.length >= 5 ? ids : null;
      }, 15_000, 'buffered results after reconnect');
      t.deepEqual(got, ['CMD_3', 'CMD_4', 'CMD_5', 'CMD_6', 'CMD_7'], 'in order, the oldest two dropped');
      await waitFor(async () => (await device.redis.llen(env.keys.resultBuffer)) === 0, 5_000, 'buffer empty');
    } finally {
      await cloud.close();
    }
  } finally {
    await device.stop();
    await broker.stop();
    await cleanupRedis(env.prefix);
    await rm(dir, { recursive: true, force: true });
  }
});
