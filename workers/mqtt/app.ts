/**
 * The mqtt app assembled from its parts, with every connection injected so
 * tests can run it in-process against a real Redis and broker:
 *
 *   outbox queue ─▶ outbox processor ─▶ delivery (ACK, retransmit, buffer) ─▶ link ─▶ broker
 *   broker ─▶ link ─▶ inbound router ─▶ ACKs to delivery, commands to the `commands` queue
 *   timers/settings ─▶ heartbeat and status (never buffered)
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { localDay, systemClock, type Clock } from '../../shared/clock.js';
import type { Config } from '../../shared/config.js';
import { buildEnvelope, plainEnvelope } from '../../shared/envelope.js';
import type { RedisKeys } from '../../shared/keys.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { setMqttLink } from '../../shared/app-health.js';
import type { HeartbeatData } from '../../shared/messages.js';
import { redisMetrics } from '../../shared/metrics.js';
import { readRuntimeSettings } from '../../shared/runtime-settings.js';
import { buildStatusData } from '../../shared/status-message.js';
import type { SystemHealth } from '../../shared/system-health.js';
import { ackRequired, topics, type OutboundType } from '../../shared/topics.js';
import type { RunningApp } from '../../shared/app-runner.js';
import { allQueueNames, makeQueue, makeWorker, queueNames, type CommandJob } from '../../queue/index.js';
import { ResultBuffer } from './result-buffer.js';
import { Delivery } from './delivery.js';
import { DeliveryStore } from './delivery-store.js';
import { readDiagnostics } from './diagnostics.js';
import { buildHeartbeatData, type HeartbeatSources } from './heartbeat.js';
import { inboundRouter } from './inbound/index.js';
import { TokenBucket } from './inbound/rate-limit.js';
import { MqttLink, type ClientFactory } from './link.js';
import { NetworkQuality } from './network-quality.js';
import { outboxProcessor } from './outbox.js';
import { watchSettings } from './settings.js';

export interface MqttAppDeps {
  config: Config;
  log: Logger;
  keys: RedisKeys;
  /** State connection (waits out Redis outages); BullMQ's worker shares it and duplicates it for blocking reads. */
  redis: Redis;
  /** Subscriber for settings changes. The app closes it. */
  subscriber: Redis;
  /** Fail-fast producer connection for the `commands` queue. The app closes it. */
  producer: Redis;
  clientFactory: ClientFactory;
  /** PEM of the broker's CA, already read. */
  ca?: Buffer | string | undefined;
  firmwareVersion: string;
  systemHealth: () => Promise<SystemHealth>;
  uptimeSeconds: () => number;
  clock?: Clock;
  random?: () => number;
}

export async function startMqttApp(d: MqttAppDeps): Promise<RunningApp> {
  const { config, log, keys, redis } = d;
  const clock = d.clock ?? systemClock;
  const t = topics(config.topicPrefix, config.deviceId);
  const metrics = redisMetrics(redis, keys);
  const quality = new NetworkQuality(clock);
  const envCtx = { deviceId: config.deviceId, version: config.protocolVersion, timestampFormat: config.timestampFormat, clock };
  const store = new DeliveryStore(redis, keys, config.retrySchedule.map((s) => Math.round(s * 1000)), config.offlineLimit, config.outFailedLimit);
  let settings = await readRuntimeSettings(redis, keys, config);
  let closed = false;

  const commands = makeQueue<CommandJob>(queueNames.commands, d.producer, keys.bullPrefix, log);
  let allQueues: Queue[] | undefined;
  const sources: HeartbeatSources = {
    redis,
    keys,
    clock,
    timezone: config.timezone,
    timestampFormat: config.timestampFormat,
    firmwareVersion: d.firmwareVersion,
    systemHealth: d.systemHealth,
    networkQuality: () => quality.current(),
    uptimeSeconds: d.uptimeSeconds,
    diagnostics: () => {
      allQueues ??= allQueueNames.map((name) => (name === queueNames.commands ? commands : makeQueue(name, d.producer, keys.bullPrefix, log)));
      return readDiagnostics(redis, keys, allQueues, clock);
    },
  };
  // The last heartbeat (without diagnostics) is the base of the last will.
  let lastHeartbeat: HeartbeatData = await buildHeartbeatData(sources, { diagnostics: false });
  const offlineHeartbeat = () => JSON.stringify(plainEnvelope(envCtx, 'heartbeat', { ...lastHeartbeat, status: 'offline' }));

  const link = new MqttLink({
    factory: d.clientFactory,
    url: config.mqttUrl,
    clientId: config.deviceId,
    keepaliveSeconds: config.mqttKeepalive,
    username: config.mqttUsername,
    password: config.mqttPassword,
    ca: d.ca,
    subscriptions: t.subscriptions(),
    will: { topic: t.outbound('heartbeat'), payload: offlineHeartbeat },
    reconnectMaxMs: config.mqttReconnectMaxMs,
    log,
    random: d.random,
  });
  const delivery = new Delivery({ store, link, clock, log, metrics, onAckLatency: (ms) => quality.recordAck(ms) });

  /** Heartbeat and status: sent if the link is up, otherwise counted and dropped (docs/protocol.md#offline-buffer). */
  const sendDirect = async (kind: string, topic: string, payload: string): Promise<void> => {
    if (link.up) {
      try {
        await link.publish(topic, payload);
        metrics.incr('messages_published_total', { type: kind });
        return;
      } catch (err) {
        log.debug({ err: (err as Error).message, kind }, 'publish failed');
      }
    }
    metrics.incr('messages_skipped_total', { type: kind });
    await store.countSkipped(kind);
  };
  const results = new ResultBuffer({
    redis,
    key: keys.resultBuffer,
    limit: config.resultBufferLimit,
    metrics,
    log,
    up: () => link.up,
    publish: async (payload) => {
      await link.publish(t.commandResult, payload);
      metrics.incr('messages_published_total', { type: 'command_result' });
    },
  });
  const sendHeartbeat = async (diagnostics: boolean): Promise<void> => {
    const data = await buildHeartbeatData(sources, { diagnostics });
    const { diagnostics: _omitted, ...base } = data;
    lastHeartbeat = base;
    await sendDirect('heartbeat', t.outbound('heartbeat'), JSON.stringify(await buildEnvelope(envCtx, 'heartbeat', data)));
  };
  const sendStatus = async (): Promise<void> => {
    const snapshot = await readMachineSnapshot(redis, keys, localDay(clock.now(), config.timezone));
    const data = buildStatusData(snapshot, { lowCoinWarning: settings.lowCoinWarning, lowCoinCritical: settings.lowCoinCritical, timestampFormat: config.timestampFormat });
    await sendDirect('status', t.outbound('status'), JSON.stringify(await buildEnvelope(envCtx, 'status', data)));
  };

  let heartbeatTimer: NodeJS.Timeout | undefined;
  const scheduleHeartbeat = (): void => {
    clearTimeout(heartbeatTimer);
    if (closed) return;
    heartbeatTimer = setTimeout(() => {
      void sendHeartbeat(false)
        .catch((err) => log.error({ err }, 'heartbeat failed'))
        .finally(scheduleHeartbeat);
    }, settings.heartbeatSeconds * 1000);
  };

  // docs/protocol.md#offline-buffer: after every (re)connect a fresh heartbeat and status, then the buffer oldest first.
  // The dashboard's /health reads the broker link from here.
  const reportLink = (connected: boolean) =>
    setMqttLink(redis, keys, connected, clock.now()).catch((err) => log.warn({ err }, 'writing the link state failed'));
  link.on('up', () => {
    void reportLink(true);
    scheduleHeartbeat();
    void (async () => {
      await sendHeartbeat(false).catch((err) => log.error({ err }, 'heartbeat after connect failed'));
      await sendStatus().catch((err) => log.error({ err }, 'status after connect failed'));
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
        await commands.add(job.commandType, job);
      },
    }),
  );
  await reportLink(false);
  link.start();

  const worker = makeWorker(
    queueNames.outbox,
    outboxProcessor({
      message: (envelope, replay) =>
        ackRequired.has(envelope.message_type)
          ? delivery.submit(t.outbound(envelope.message_type), envelope, replay)
          : sendDirect(envelope.message_type, t.outbound(envelope.message_type as OutboundType), JSON.stringify(envelope)),
      commandResult: (result) => results.send(JSON.stringify(result)),
      heartbeat: (diagnostics) => sendHeartbeat(diagnostics),
    }),
    redis,
    keys.bullPrefix,
    log,
    { concurrency: 1 },
  );

  const stopWatching = await watchSettings(
    d.subscriber,
    keys,
    () => {
      void readRuntimeSettings(redis, keys, config)
        .then((next) => {
          const restart = next.heartbeatSeconds !== settings.heartbeatSeconds;
          settings = next;
          if (restart) {
            log.info({ heartbeatSeconds: next.heartbeatSeconds }, 'heartbeat interval changed');
            scheduleHeartbeat();
          }
        })
        .catch((err) => log.error({ err }, 'reading settings failed'));
    },
    log,
  );

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        closed = true;
        clearTimeout(heartbeatTimer);
        const steps: Array<() => Promise<unknown>> = [
          stopWatching,
          () => worker.close(),
          () => delivery.close(),
          // A graceful stop is announced; a crash is announced by the broker (last will).
          () => link.close({ topic: t.outbound('heartbeat'), payload: offlineHeartbeat() }),
          () => reportLink(false),
          () => Promise.all((allQueues ?? [commands]).map((q) => q.close())),
          () => metrics.close(),
          () => d.subscriber.quit(),
          () => d.producer.quit(),
        ];
        for (const step of steps) await step().catch((err) => log.warn({ err }, 'error while closing'));
      })()),
  };
}
