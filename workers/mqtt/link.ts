/**
 * The broker connection (mqtt.js 5): exact subscriptions on every connect,
 * TCP no-delay, our own capped exponential back-off with jitter (mqtt.js only
 * has a fixed interval; docs/pitfalls.md#2-mqttjs), QoS 0 everywhere and no client-side
 * offline queue (the delivery state is the only buffer, docs/protocol.md#the-mqtt-session).
 */
import { EventEmitter } from 'node:events';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export type ClientFactory = (url: string, options: IClientOptions) => MqttClient;

export interface LinkOptions {
  factory: ClientFactory;
  url: string;
  clientId: string;
  keepaliveSeconds: number;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM of the broker's CA (mqtts). */
  ca?: Buffer | string | undefined;
  subscriptions: readonly string[];
  /** Last will: topic and a payload built fresh before every connect attempt. */
  will: { topic: string; payload: () => string };
  /** Cap of the reconnect back-off, ms. */
  reconnectMaxMs: number;
  log: Logger;
  /** 0 ≤ x < 1; injectable for tests. */
  random?: () => number;
}

/** First reconnect delay; doubles per failed attempt up to the cap. */
const RECONNECT_BASE_MS = 500;
/** A black-holed broker must not hold a connect attempt for mqtt.js's default 30 s. */
const CONNECT_TIMEOUT_MS = 15_000;

/** "Equal jitter": half the exponential delay fixed, half random, so a fleet does not reconnect in step. */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export interface LinkEvents {
  /** Connected and subscribed. */
  up: [];
  /** An established link was lost. */
  down: [];
  /** A connect attempt ended without the link coming up (another follows after the back-off). */
  failed: [];
  message: [topic: string, payload: Buffer];
}

export class MqttLink extends EventEmitter<LinkEvents> {
  private client: MqttClient | undefined;
  private isUp = false;
  private closing = false;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: LinkOptions) {
    super();
  }

  get up(): boolean {
    return this.isUp;
  }

  start(): void {
    const options = this.options;
    const client = options.factory(options.url, {
      clientId: options.clientId,
      keepalive: options.keepaliveSeconds,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      queueQoSZero: false,
      resubscribe: false,
      // mqtt-packet's cache of every 2-byte number (65,536 small buffers, 6-9 MB of the app's memory,
      // docs/performance.md) buys nothing measurable at a few messages a second.
      writeCache: false,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      will: { topic: options.will.topic, payload: Buffer.from(options.will.payload()), qos: 0, retain: false },
    });
    this.client = client;
    // During a long outage every attempt fails the same way: warn once, then keep it at debug.
    client.on('error', (err) => (this.attempt <= 1 ? options.log.warn : options.log.debug).call(options.log, { err: err.message, attempt: this.attempt }, 'mqtt error'));
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => this.onClose());
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
  }

  publish(topic: string, payload: string): Promise<void> {
    const client = this.client;
    if (!this.isUp || !client) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 0 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Ends the connection; `finalMessage` is published first when the link is up (a graceful "offline"). */
  async close(finalMessage?: { topic: string; payload: string }): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    if (!client) return;
    if (finalMessage && this.isUp) await this.publish(finalMessage.topic, finalMessage.payload).catch(() => undefined);
    this.isUp = false;
    await client.endAsync().catch(() => client.end(true));
  }

  private onConnect(client: MqttClient): void {
    // docs/pitfalls.md#nagles-algorithm: without no-delay a transaction and its accounting wait for the peer's delayed ACK.
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    client.subscribe([...this.options.subscriptions], { qos: 0 }, (err) => {
      if (err) {
        this.options.log.warn({ err: err.message }, 'subscribe failed; reconnecting');
        client.end(true);
        return;
      }
      if (!client.connected || this.closing) return;
      this.attempt = 0;
      this.isUp = true;
      this.options.log.info('mqtt link up');
      this.emit('up');
    });
  }

  private onClose(): void {
    const wasUp = this.isUp;
    this.isUp = false;
    if (wasUp) {
      this.options.log.warn('mqtt link down');
      this.emit('down');
    }
    if (this.closing || this.retry) return;
    if (!wasUp) this.emit('failed');
    const delay = reconnectDelay(this.attempt++, Math.min(RECONNECT_BASE_MS, this.options.reconnectMaxMs), this.options.reconnectMaxMs, this.options.random ?? Math.random);
    this.options.log.debug({ attempt: this.attempt, delayMs: delay }, 'reconnecting');
    this.retry = setTimeout(() => {
      this.retry = undefined;
      const client = this.client;
      if (this.closing || !client) return;
      // A fresh will for this connection (mqtt.js reads options.will at every CONNECT).
      client.options.will = { topic: this.options.will.topic, payload: Buffer.from(this.options.will.payload()), qos: 0, retain: false };
      client.reconnect();
    }, delay);
  }
}
