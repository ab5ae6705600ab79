/**
 * The mqtt app loads its BullMQ side (outbox worker, commands queue) after
 * the first heartbeat, or after the first connect attempt that failed: with
 * the broker unreachable at start, the outbox is still taken into the offline
 * buffer (docs/protocol.md#offline-buffer).
 */
import test from 'ava';
import { createServer } from 'node:net';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startDevice, txnData } from '../helpers/mqtt-harness.js';

/** A port nothing listens on: connections to it are refused at once. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('broker unreachable at start: the app starts and buffers the outbox', async (t) => {
  t.timeout(20_000);
  const env = testEnv();
  const device = await startDevice(env, { mqttUrl: `mqtt://127.0.0.1:${await closedPort()}` });
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
