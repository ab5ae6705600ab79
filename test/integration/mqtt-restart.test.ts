/**
 * A restart of the mqtt app continues every retransmission schedule where it
 * was (docs/protocol.md#4-ack-and-retransmission): the delivery state in Redis carries absolute due
 * times, so a second instance resends on time, resends at once what fell
 * due while it was down, and never starts a schedule over.
 */
import test from 'ava';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startDevice, txnData } from '../helpers/mqtt-harness.js';

test('a second instance against the same Redis continues each schedule: on-time resends stay on time, overdue ones go at once', async (t) => {
  t.timeout(40_000);
  // Sends at 0, 1.5, 4.5, 7.5 s; given up at 10.5 s.
  const env = testEnv({ COINEREX_RETRY_SCHEDULE: '1.5,3,3,3' });
  const cloud = await cloudPeer(env.deviceId, { policy: 'none' });
  let device = await startDevice(env);
  const sendsOf = (id: string) => cloud.received.filter((r) => r.payload?.message_id === id).map((r) => r.at);
  try {
    await cloud.waitCount('heartbeat', 1);
    const x = await device.produce('transaction', txnData(1));
    await waitFor(() => sendsOf(x.message_id).length === 1, 5000, 'x sent');
    await waitFor(() => Date.now() >= sendsOf(x.message_id)[0]! + 900, 5000, 'y due 0.9 s after x');
    const y = await device.produce('transaction', txnData(2));
    await waitFor(() => sendsOf(x.message_id).length === 2, 5000, "x's second send");
    const x0 = sendsOf(x.message_id)[0]!;
    const y0 = sendsOf(y.message_id)[0]!;
    await device.stop();
    t.is(sendsOf(y.message_id).length, 1, "stopped before y's second send");
    // Down past y's second send (due at y0 + 1.5 s), back before x's third (x0 + 4.5 s).
    await waitFor(() => Date.now() >= y0 + 2_000, 5000, 'downtime');
    const restartedAt = Date.now();
    device = await startDevice(env);

    await waitFor(async () => (await readDeliveryStats(device.redis, env.keys)).failed === 2, 20_000, 'both given up');
    const xs = sendsOf(x.message_id).map((at) => (at - x0) / 1000);
    const ys = sendsOf(y.message_id).map((at) => (at - y0) / 1000);
    t.is(xs.length, 4, `x sends ${xs}`);
    t.is(ys.length, 4, `y sends ${ys}`);
    [0, 1.5, 4.5, 7.5].forEach((want, i) => t.true(Math.abs(xs[i]! - want) <= Math.max(0.1, want * 0.1), `x send ${i + 1} at ${xs[i]} s, want ${want}`));
    // y's overdue second send went out as soon as the new instance was connected, the rest followed on schedule from it.
    const y2 = (restartedAt - y0) / 1000;
    t.true(ys[1]! >= y2 && ys[1]! - y2 < 1, `y second send at ${ys[1]} s, restarted at ${y2} s`);
    t.true(Math.abs(ys[2]! - ys[1]! - 3) <= 0.3 && Math.abs(ys[3]! - ys[2]! - 3) <= 0.3, `y sends ${ys}`);
  } finally {
    await device.stop();
    await cloud.close();
    await cleanupRedis(env.prefix);
  }
});
