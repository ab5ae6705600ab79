/**
 * The mqtt app loads its BullMQ side (outbox worker, commands queue) after
 * the first heartbeat, or after the first connect attempt that failed: with
 * the broker unreachable at start, the outbox is still taken into the offline
 * buffer (docs/protocol.md#offline-buffer).
 */
import test from 'ava';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { freePort } from '../helpers/app-process.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startDevice, txnData } from '../helpers/mqtt-harness.js';

test('broker unreachable at start: the app starts and buffers the outbox', async (t) => {
  t.timeout(20_000);
  const env = testEnv();
  // A port nothing listens on: every connect attempt is refused at once.
  const device = await startDevice(env, { mqttUrl: `mqtt://127.0.0.1:${await freePort()}` });
  try {
    await device.produce('transaction', txnData(1));
    await device.produce('transaction', txnData(2));
    await waitFor(async () => (await readDeliveryStats(device.redis, env.keys)).buffered === 2, 5_000, 'two buffered');
    t.like(await readDeliveryStats(device.redis, env.keys), { buffered: 2, pending: 0 });
  } finally {
    await device.stop();
    await cleanupRedis(env.prefix);
  }
});
