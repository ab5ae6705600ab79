/**
 * Heartbeat (docs/protocol.md#5-device-messages, docs/protocol.md#7-commands): machine state read from the business
 * app's keys, the interval changed live by a `config` setting, diagnostics
 * on request, and an `offline` heartbeat when the app stops.
 */
import test from 'ava';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { envelopeSchema, heartbeatDataSchema } from '../../shared/messages.js';
import { configuredSettings, writeRuntimeSettings } from '../../shared/runtime-settings.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv } from '../helpers/env.js';
import { startDevice } from '../helpers/mqtt-harness.js';

test('heartbeat: machine health from Redis, live interval change, diagnostics on request, offline on stop', async (t) => {
  t.timeout(30_000);
  const env = testEnv({ COINEREX_HEARTBEAT_SECONDS: '600' });
  const k = env.keys;
  const cloud = await cloudPeer(env.deviceId);
  const setup = await startDevice(env);
  await setup.redis
    .multi()
    .hset(k.machine, { status: '4', lastTransactionAt: String(1_757_644_200_000), serviceStatus: JSON.stringify({ dispenser: 'fault' }) })
    .hset(k.activeCodes, { 'error:41': '1', 'alarm:1': '1' })
    .exec();
  let device = setup;
  try {
    await cloud.waitCount('heartbeat', 1);
    // Ask for one now (query with diagnostics) so it reflects the state written above.
    await device.outbox.add('hb', { kind: 'heartbeat', diagnostics: true });
    const withDiag = await cloud.waitFor((r) => r.type === 'heartbeat' && r.payload.data.diagnostics !== undefined);
    t.true(envelopeSchema.safeParse(withDiag.payload).success);
    const data = heartbeatDataSchema.parse(withDiag.payload.data);
    t.like(data, { status: 'degraded', firmware_version: '0.0.0-test', last_transaction: 1_757_644_200, service_status: { dispenser: 'fault', coin_acceptor: 'operational' } });
    // The guide's numbers are numbers: 0 = no maintenance recorded yet, 0 °C without a sensor.
    t.is(data.statistics.last_maintenance, 0);
    t.is(typeof data.system_health.temperature, 'number');
    t.true(['excellent', 'good', 'fair', 'poor'].includes(data.network_quality));
    t.deepEqual(
      data.active_issues,
      [
        { type: 'error', code: 41, description: '退幣器故障', severity: 'critical' },
        { type: 'alarm', code: 1, description: '低幣量', severity: 'warning' },
      ],
    );
    t.like(data.diagnostics, { delivery: await readDeliveryStats(device.redis, k), queues: { outbox: { active: 1 } } });

    // The cloud sets a 1 s interval: heartbeats follow without a restart.
    const before = cloud.of('heartbeat').length;
    const settings = { ...configuredSettings(env.config), heartbeatSeconds: 1 };
    await writeRuntimeSettings(device.redis, k, { heartbeatSeconds: 1 }, settings);
    await cloud.waitCount('heartbeat', before + 2, 5_000);
    const beats = cloud.of('heartbeat').slice(before);
    t.true(Math.abs(beats[1]!.at - beats[0]!.at - 1000) < 300, `interval ${beats[1]!.at - beats[0]!.at} ms`);

    // A restarted app reads the stored interval; a graceful stop says `offline`.
    await device.stop();
    const offline = await cloud.waitFor((r) => r.type === 'heartbeat' && r.payload.data.status === 'offline', 3_000, 'offline heartbeat');
    t.true(heartbeatDataSchema.safeParse(offline.payload.data).success);
    device = await startDevice(env);
    const n = cloud.of('heartbeat').length;
    await cloud.waitCount('heartbeat', n + 2, 5_000);
  } finally {
    await device.stop();
    await cloud.close();
    await cleanupRedis(env.prefix);
  }
});
