/**
 * kill -9 of the `mqtt` PM2 app while messages await ACKs (docs/protocol.md#4-ack-and-retransmission):
 * PM2 restarts it and every message continues its schedule where it was;
 * none is lost, none starts over.
 */
import test from 'ava';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { envelopeSchema, heartbeatDataSchema } from '../../shared/messages.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startStack } from '../helpers/pm2.js';
import { outboxProducer, txnData } from '../helpers/mqtt-harness.js';

test('kill -9 of mqtt: after the PM2 restart each message keeps its schedule (4 sends at 0, 2, 7, 12 s), none lost or restarted', async (t) => {
  t.timeout(120_000);
  const env = testEnv({ COINEREX_RETRY_SCHEDULE: '2,5,5,5' });
  const cloud = await cloudPeer(env.deviceId, { policy: 'none' });
  const producer = outboxProducer(env);
  const stack = await startStack(['mqtt'], env.env);
  const sendsOf = (id: string) => cloud.received.filter((r) => r.payload?.message_id === id).map((r) => r.at);
  try {
    await cloud.waitCount('heartbeat', 1, 30_000);
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      ids.push((await producer.produce('transaction', txnData(i))).message_id);
      await waitFor(() => sendsOf(ids.at(-1)!).length === 1, 5000, `message ${i} sent`);
      await waitFor(() => Date.now() >= sendsOf(ids.at(-1)!)[0]! + 400, 5000, 'schedules 0.4 s apart');
    }
    // Every message has had its second send and waits 5 s for its third.
    await waitFor(() => ids.every((id) => sendsOf(id).length === 2), 10_000, 'second sends');
    await stack.kill9('mqtt');
    t.is((await stack.list()).find((p) => p.name === 'mqtt')?.restarts, 1);
    // The broker announced the crash with the last will: a full heartbeat envelope saying `offline`.
    const will = await cloud.waitFor((r) => r.type === 'heartbeat' && r.payload?.data?.status === 'offline', 5000, 'last will');
    t.true(envelopeSchema.safeParse(will.payload).success && heartbeatDataSchema.safeParse(will.payload.data).success);

    await waitFor(async () => (await readDeliveryStats(producer.redis, env.keys)).failed === 3, 30_000, 'all given up');
    for (const id of ids) {
      const sends = sendsOf(id);
      const offsets = sends.map((at) => (at - sends[0]!) / 1000);
      t.is(sends.length, 4, `sends at ${offsets}`);
      [0, 2, 7, 12].forEach((want, i) => t.true(Math.abs(offsets[i]! - want) <= Math.max(0.2, want * 0.1), `send ${i + 1} at ${offsets[i]} s, want ${want}`));
    }
  } finally {
    await stack.destroy();
    await producer.close();
    await cloud.close();
    await cleanupRedis(env.prefix);
  }
});
