/**
 * The mqtt app wired from its parts; every connection, the metrics and the
 * clock are injected (main.ts makes and closes them), so tests run it
 * in-process against a real Redis and broker:
 *
 *   outbox queue ─▶ outbox processor ─▶ delivery (ACK, retransmit, buffer) ─▶ link ─▶ broker
 *   broker ─▶ link ─▶ inbound router ─▶ ACKs to delivery, commands to the `commands` queue
 *   timer/settings ─▶ heartbeat and status, sent or counted (never buffered)
 *
 * The BullMQ side (./queues.ts) is loaded after the first heartbeat after
 * connect, or after the first failed connect attempt: until then outbox jobs
 * wait in Redis and inbound commands wait for the queue.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { closeInOrder } from '../../shared/close.js';
import type { Config } from '../../shared/config.js';
import type { RedisKeys } from '../../shared/keys.js';
import { setMqttLink } from '../../shared/app-health.js';
import type { Metrics } from '../../shared/metrics.js';
import type { SystemHealth } from '../../shared/system-health.js';
import { ackRequired, topics } from '../../shared/topics.js';
import type { RunningApp } from '../../shared/app-runner.js';
import { ResultBuffer } from './result-buffer.js';
import { Delivery } from './delivery.js';
import { DeliveryStore } from './delivery-store.js';
import { readDiagnostics } from './diagnostics.js';
import { directSender } from './direct-send.js';
import { HeartbeatSender, HeartbeatTimer } from './heartbeat-sender.js';
import { inboundRouter } from './inbound/index.js';
import { TokenBucket } from '../../shared/token-bucket.js';
import { MqttLink, type ClientFactory } from './link.js';
import { NetworkQuality } from './network-quality.js';
import { followSettings } from './settings.js';

export interface MqttAppDeps {
  config: Config;
  log: Logger;
  keys: RedisKeys;
  /** State connection (waits out Redis outages); BullMQ's worker shares it and duplicates it for blocking reads. */
  redis: Redis;
  /** Subscriber for settings changes. */
  subscriber: Redis;
  /** Fail-fast producer connection for the `commands` queue. */
  producer: Redis;
  metrics: Metrics;
  clock: Clock;
  clientFactory: ClientFactory;
  /** PEM of the broker's CA, already read. */
  ca?: Buffer | string | undefined;
  firmwareVersion: string;
  systemHealth: () => Promise<SystemHealth>;
  uptimeSeconds: () => number;
  random?: () => number;
}

export async function startMqttApp(deps: MqttAppDeps): Promise<RunningApp> {
  const { config, log, keys, redis, metrics, clock } = deps;
  const deviceTopics = topics(config.topicPrefix, config.deviceId);
  const quality = new NetworkQuality(clock);
  const store = new DeliveryStore(redis, keys, config.retrySchedule.map((s) => Math.round(s * 1000)), config.offlineLimit, config.outFailedLimit);
  let queuesDue!: () => void;
  const bull = new Promise<void>((resolve) => (queuesDue = resolve))
    .then(() => import('./queues.js'))
    .then((m) => ({ outboxWorker: m.outboxWorker, queues: m.mqttQueues(deps.producer, keys.bullPrefix, log) }));

  const heartbeatSender = HeartbeatSender.create({
    sources: {
      redis,
      keys,
      clock,
      timezone: config.timezone,
      timestampFormat: config.timestampFormat,
      firmwareVersion: deps.firmwareVersion,
      systemHealth: deps.systemHealth,
      networkQuality: () => quality.current(),
      uptimeSeconds: deps.uptimeSeconds,
      diagnostics: async () => readDiagnostics(redis, keys, (await bull).queues.all(), clock),
    },
    envelope: { deviceId: config.deviceId, version: config.protocolVersion, timestampFormat: config.timestampFormat, clock },
    topics: { heartbeat: deviceTopics.outbound('heartbeat'), status: deviceTopics.outbound('status') },
    timezone: config.timezone,
    settings: () => settings.current(),
  });
  const timer = new HeartbeatTimer(() => heartbeats.sendHeartbeat(send, false), log);
  const liveSettings = followSettings(
    redis,
    deps.subscriber,
    keys,
    config,
    (next, previous) => {
      if (next.heartbeatSeconds === previous.heartbeatSeconds) return;
      log.info({ heartbeatSeconds: next.heartbeatSeconds }, 'heartbeat interval changed');
      timer.restart(next.heartbeatSeconds * 1000);
    },
    log,
  );
  // The link state is written "down" before the link can report "up".
  const reportLink = (connected: boolean) =>
    setMqttLink(redis, keys, connected, clock.now()).catch((err) => log.warn({ err }, 'writing the link state failed'));
  const [heartbeats, settings] = await Promise.all([heartbeatSender, liveSettings, reportLink(false)]);
  const link = new MqttLink({
    factory: deps.clientFactory,
    url: config.mqttUrl,
    clientId: config.deviceId,
    keepaliveSeconds: config.mqttKeepalive,
    username: config.mqttUsername,
    password: config.mqttPassword,
    ca: deps.ca,
    subscriptions: deviceTopics.subscriptions(),
    will: { topic: deviceTopics.outbound('heartbeat'), payload: () => heartbeats.offlinePayload() },
    reconnectMaxMs: config.mqttReconnectMaxMs,
    log,
    random: deps.random,
  });
  const send = directSender(link, store, metrics, log);
  const delivery = new Delivery({ store, link, clock, log, metrics, onAckLatency: (ms) => quality.recordAck(ms) });
  const results = new ResultBuffer({
    redis,
    key: keys.resultBuffer,
    limit: config.resultBufferLimit,
    metrics,
    log,
    up: () => link.up,
    publish: async (payload) => {
      await link.publish(deviceTopics.commandResult, payload);
      metrics.incr('messages_published_total', { type: 'command_result' });
    },
  });
  // docs/protocol.md#offline-buffer: after every (re)connect a fresh heartbeat and status, then the buffer oldest first.
  // The dashboard's /health reads the broker link from here.
  link.on('up', () => {
    void reportLink(true);
    timer.restart(settings.current().heartbeatSeconds * 1000);
    void (async () => {
      await heartbeats.sendHeartbeat(send, false).catch((err) => log.error({ err }, 'heartbeat after connect failed'));
      await heartbeats.sendStatus(send).catch((err) => log.error({ err }, 'status after connect failed'));
      queuesDue();
      if (link.up) await Promise.all([results.flush(), delivery.linkUp()]);
    })().catch((err) => log.error({ err }, 'resuming delivery failed'));
  });
  link.on('down', () => {
    void reportLink(false);
    quality.recordDrop();
    void delivery.linkDown().catch((err) => log.error({ err }, 'suspending delivery failed'));
  });
  link.on(
    'message',
    inboundRouter({
      topicPrefix: config.topicPrefix,
      deviceId: config.deviceId,
      clock,
      log,
      metrics,
      commandBucket: new TokenBucket(config.commandRateLimit, config.commandRateLimit * 5, clock),
      onAck: (ack) => delivery.handleAck(ack),
      enqueueCommand: async (job) => {
        await (await bull).queues.commands.add(job.commandType, job);
      },
    }),
  );
  link.once('failed', () => queuesDue());
  link.start();

  const { queues, outboxWorker } = await bull;
  const worker = outboxWorker(
    {
      message: (envelope, replay) =>
        ackRequired.has(envelope.message_type)
          ? delivery.submit(deviceTopics.outbound(envelope.message_type), envelope, replay)
          : send(envelope.message_type, deviceTopics.outbound(envelope.message_type), JSON.stringify(envelope)),
      commandResult: (result) => results.send(JSON.stringify(result)),
      heartbeat: (diagnostics) => heartbeats.sendHeartbeat(send, diagnostics),
    },
    redis,
    keys.bullPrefix,
    log,
  );

  return {
    close: closeInOrder(
      () => [
        { name: 'settings', run: () => settings.stop() },
        { name: 'heartbeat timer', run: () => timer.stop() },
        // Worker.close() waits for the outbox job in hand; delivery then keeps what is unsent for the next start.
        { name: 'outbox worker', run: () => worker.close() },
        { name: 'delivery', run: () => delivery.close() },
        // A graceful stop is announced; a crash is announced by the broker (last will).
        { name: 'broker link', run: () => link.close({ topic: deviceTopics.outbound('heartbeat'), payload: heartbeats.offlinePayload() }) },
        { name: 'link state', run: () => reportLink(false) },
        { name: 'queues', run: () => queues.close() },
      ],
      { log },
    ),
  };
}
