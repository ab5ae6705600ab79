/**
 * Runs the mqtt app in-process against the real Redis and a real broker,
 * with a test's own device id, key prefix and (fast) schedule, plus what a
 * test needs around it: an outbox producer and envelope builders.
 */
import { tmpdir } from 'node:os';
import mqtt from 'mqtt';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { systemClock } from '../../shared/clock.js';
import { partialEnvelope } from './envelopes.js';
import { makeLogger } from '../../shared/logger.js';
import { redisMetrics } from '../../shared/metrics.js';
import type { Envelope } from '../../shared/messages.js';
import type { OutboundType } from '../../shared/topics.js';
import { systemHealthReader } from '../../shared/system-health.js';
import type { RunningApp } from '../../shared/app-runner.js';
import { makeQueue, producerConnection, queueNames, workerConnection, type OutboxJob } from '../../queue/index.js';
import { startMqttApp } from '../../workers/mqtt/app.js';
import { REDIS_URL, type TestEnv } from './env.js';

export interface OutboxProducer {
  /** The test's own state connection. */
  redis: Redis;
  outbox: Queue<OutboxJob>;
  /** Adds a message to the outbox the way the business app does (ACK-required types get a `seq`). */
  produce(type: OutboundType, data: Record<string, unknown>): Promise<Envelope>;
  close(): Promise<void>;
}

export interface Device extends OutboxProducer {
  app: RunningApp;
  stop(): Promise<void>;
}

export function txnData(n: number): Record<string, unknown> {
  return { transaction_type: 'exchange', transaction_id: `TXN_20261127_120000_${String(n).padStart(3, '0')}`, n };
}

export function outboxProducer(env: TestEnv): OutboxProducer {
  const redis = workerConnection(REDIS_URL, 'test-mqtt-observer');
  const producer = producerConnection(REDIS_URL, 'test-outbox-producer');
  const outbox = makeQueue<OutboxJob>(queueNames.outbox, producer, env.keys.bullPrefix);
  const c = env.config;
  const ctx = { deviceId: c.deviceId, version: c.protocolVersion, timestampFormat: c.timestampFormat, clock: systemClock, seq: { redis, keys: env.keys } };
  return {
    redis,
    outbox,
    async produce(type, data) {
      const envelope = await partialEnvelope(ctx, type, data);
      await outbox.add('message', { kind: 'message', envelope });
      return envelope;
    },
    async close() {
      await outbox.close();
      await producer.quit();
      await redis.quit();
    },
  };
}

/** Starts the app for `env` (resolves once its first heartbeat is out, or its first connect failed); `mqttUrl` overrides the broker. */
export async function startDevice(env: TestEnv, opts: { mqttUrl?: string } = {}): Promise<Device> {
  const config = opts.mqttUrl ? { ...env.config, mqttUrl: opts.mqttUrl } : env.config;
  // What workers/mqtt/main.ts makes and closes around the app.
  const appRedis = workerConnection(REDIS_URL, 'test-mqtt-state');
  const subscriber = workerConnection(REDIS_URL, 'test-mqtt-sub');
  const commandsProducer = producerConnection(REDIS_URL, 'test-mqtt-producer');
  const metrics = redisMetrics(appRedis, env.keys);
  const app = await startMqttApp({
    config,
    log: makeLogger('mqtt-test', 'error', false),
    keys: env.keys,
    redis: appRedis,
    subscriber,
    producer: commandsProducer,
    metrics,
    clock: systemClock,
    clientFactory: (url, options) => mqtt.connect(url, options),
    firmwareVersion: '0.0.0-test',
    systemHealth: systemHealthReader({ dataDir: tmpdir() }),
    uptimeSeconds: () => 1,
  });
  const producer = outboxProducer(env);
  let stopped: Promise<void> | undefined;
  return {
    ...producer,
    app,
    stop: () =>
      (stopped ??= (async () => {
        await app.close();
        await metrics.close();
        for (const c of [subscriber, commandsProducer, appRedis]) await c.quit();
        await producer.close();
      })()),
  };
}
