/**
 * No message stays in the offline buffer while the link is up
 * (docs/protocol.md#offline-buffer), against the real Redis and Mosquitto.
 *
 * The race (the likely cause of the crash-point violation remote dispense,
 * mqtt:6 before, which timing makes rare): after a restart
 * the re-run outbox job hands its message over while the reconnect flush is
 * in progress, so it goes into the buffer; Redis answers the flush's take
 * (buffer still empty) and that add in one reply packet, and the add's "flush
 * again" request landed after the flush had decided to stop but before it
 * had finished: the message stayed buffered until the next reconnect. The
 * test holds both Redis answers and releases them in the same tick, in the
 * order Redis gave them, as ioredis does when one packet carries both.
 * Likewise a flush that failed is retried, not left for the next reconnect.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { systemClock } from '../../shared/clock.js';
import { partialEnvelope } from '../helpers/envelopes.js';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { makeLogger } from '../../shared/logger.js';
import type { Metrics } from '../../shared/metrics.js';
import { topics } from '../../shared/topics.js';
import { workerConnection } from '../../shared/redis.js';
import { Delivery } from '../../workers/mqtt/delivery.js';
import { DeliveryStore, type AddInput, type AddResult, type TakeResult } from '../../workers/mqtt/delivery-store.js';
import { MqttLink } from '../../workers/mqtt/link.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, MQTT_URL, REDIS_URL } from '../helpers/env.js';
import { txnData } from '../helpers/mqtt-harness.js';

/** A real store whose answers can be held and then delivered together, in the order Redis gave them. */
class HeldStore extends DeliveryStore {
  holding = false;
  /** The next take fails, as when Redis is unreachable. */
  failNextTake = false;
  private held: Array<Promise<() => void>> = [];

  override take(now: number, max: number): Promise<TakeResult> {
    if (this.failNextTake) {
      this.failNextTake = false;
      return Promise.reject(new Error('Connection is closed.'));
    }
    return this.gate(super.take(now, max));
  }

  override add(m: AddInput): Promise<AddResult> {
    return this.gate(super.add(m));
  }

  /** How many calls are held. */
  get heldCalls(): number {
    return this.held.length;
  }

  /** Waits for Redis's answers to every held call, then delivers them all in one tick. */
  async release(): Promise<void> {
    this.holding = false;
    const answers = await Promise.all(this.held.splice(0));
    answers.forEach((deliver) => deliver());
  }

  private gate<T>(call: Promise<T>): Promise<T> {
    if (!this.holding) return call;
    return new Promise<T>((resolve, reject) => {
      this.held.push(
        call.then(
          (v) => () => resolve(v),
          (err: unknown) => () => reject(err),
        ),
      );
    });
  }
}

async function rig() {
  const env = testEnv();
  const c = env.config;
  const redis = workerConnection(REDIS_URL, 'test-flush-race');
  const cloud = await cloudPeer(env.deviceId);
  const log = makeLogger('test', 'silent', false);
  const link = new MqttLink({
    factory: (url, options) => mqtt.connect(url, options),
    url: MQTT_URL,
    clientId: env.deviceId,
    keepaliveSeconds: 30,
    subscriptions: [`test/${env.deviceId}/none`],
    will: { topic: `test/${env.deviceId}/will`, payload: () => 'offline' },
    reconnectMaxMs: 1000,
    log,
  });
  const metrics: Metrics = { incr: () => undefined, observe: () => undefined, set: () => undefined };
  const store = new HeldStore(redis, env.keys, [60_000], c.offlineLimit);
  const delivery = new Delivery({ store, link, clock: systemClock, log, metrics });
  const up = new Promise<void>((resolve) => link.once('up', resolve));
  link.start();
  await up;
  const ctx = { deviceId: c.deviceId, version: c.protocolVersion, timestampFormat: c.timestampFormat, clock: systemClock, seq: { redis, keys: env.keys } };
  return {
    store,
    delivery,
    /** Submits a new transaction as the outbox processor does; the add is issued before this returns. */
    async submit(n: number) {
      const envelope = await partialEnvelope(ctx, 'transaction', txnData(n));
      return { envelope, submitted: delivery.submit(topics(c.topicPrefix, c.deviceId).outbound('transaction'), envelope) };
    },
    /** The message at the cloud, or undefined after 5 s; and how many are still buffered. */
    async arrival(messageId: string) {
      const got = await cloud.waitFor((m) => m.payload?.message_id === messageId, 5000, 'the buffered transaction at the cloud').catch(() => undefined);
      return { got, buffered: (await readDeliveryStats(redis, env.keys)).buffered };
    },
    async done() {
      await delivery.close();
      await link.close();
      await cloud.close();
      await redis.quit();
      await cleanupRedis(env.prefix);
    },
  };
}

test('a message buffered while the reconnect flush runs is sent once Redis answers both at once', async (t) => {
  t.timeout(30_000);
  const r = await rig();
  try {
    // The reconnect flush: its take (buffer empty) is on its way to Redis.
    r.store.holding = true;
    const flushed = r.delivery.linkUp();
    // The re-run outbox job hands its message over meanwhile: behind the flush, into the buffer.
    const { envelope, submitted } = await r.submit(1);
    t.is(r.store.heldCalls, 2, 'the take and the add are both waiting for Redis');
    await r.store.release();
    await Promise.all([flushed, submitted]);
    const { got, buffered } = await r.arrival(envelope.message_id);
    t.truthy(got, `the link is up, yet the transaction was not sent (buffered ${buffered})`);
    t.is(buffered, 0);
  } finally {
    await r.done();
  }
});

test('a flush that failed is retried while the link stays up', async (t) => {
  t.timeout(30_000);
  const r = await rig();
  try {
    // Handed over before the post-connect heartbeat and status: buffered.
    const { envelope, submitted } = await r.submit(1);
    await submitted;
    r.store.failNextTake = true;
    await r.delivery.linkUp();
    const { got, buffered } = await r.arrival(envelope.message_id);
    t.truthy(got, `the link is up, yet the transaction was not sent (buffered ${buffered})`);
    t.is(buffered, 0);
  } finally {
    await r.done();
  }
});
