/**
 * A cloud peer for tests: subscribes to a device's topics over MQTT, records
 * every message, and ACKs ACK-required ones with a switchable policy.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { ackRequired, topics as topicsFor, type Topics } from '../../shared/topics.js';
import { waitFor, MQTT_URL } from './env.js';

export type AckPolicy = 'all' | 'none' | 'error' | ((msg: Received) => 'received' | 'processed' | 'error' | null);

export interface Received {
  topic: string;
  /** The topic's type segment (`transaction`, …) or `command_result`. */
  type: string;
  payload: any;
  at: number;
}

export interface CloudPeer {
  topics: Topics;
  received: Received[];
  policy: AckPolicy;
  of(type: string): Received[];
  /** Distinct by message_id (the cloud's de-duplication). */
  unique(type?: string): Received[];
  waitFor(pred: (r: Received) => boolean, timeoutMs?: number, what?: string): Promise<Received>;
  waitCount(type: string, n: number, timeoutMs?: number): Promise<Received[]>;
  ack(messageId: string, status?: 'received' | 'processed' | 'error'): Promise<void>;
  command(type: string, body: unknown): Promise<void>;
  publishRaw(topic: string, payload: string | Buffer): Promise<void>;
  close(): Promise<void>;
}

/**
 * `session`: a fixed client id with a persistent session (clean: false), so a broker that keeps sessions
 * (privateBroker's `keepSessions`) holds what the device sends while this peer is away, restarts included.
 */
export async function cloudPeer(deviceId: string, opts: { url?: string; prefix?: string; policy?: AckPolicy; session?: string } = {}): Promise<CloudPeer> {
  const prefix = opts.prefix ?? 'coinerex';
  const t = topicsFor(prefix, deviceId);
  const clientId = opts.session ?? `cloud-${deviceId}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const client: MqttClient = mqtt.connect(opts.url ?? MQTT_URL, { clientId, clean: opts.session === undefined, reconnectPeriod: 200 });
  // The message handler is attached before the CONNACK: a resumed session's queued messages arrive right behind it.
  const connected = new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const peer: CloudPeer = {
    topics: t,
    received: [],
    policy: opts.policy ?? 'all',
    of: (type) => peer.received.filter((r) => r.type === type),
    unique(type) {
      const seen = new Set<string>();
      return peer.received.filter((r) => (type === undefined || r.type === type) && r.payload?.message_id && !seen.has(r.payload.message_id) && seen.add(r.payload.message_id));
    },
    waitFor: (pred, timeoutMs = 10_000, what = 'message') => waitFor(() => peer.received.find(pred), timeoutMs, what),
    waitCount: (type, n, timeoutMs = 10_000) => waitFor(() => (peer.of(type).length >= n ? peer.of(type) : null), timeoutMs, `${n} ${type} messages`),
    ack: async (messageId, status = 'received') => {
      await client.publishAsync(t.ack, JSON.stringify({ timestamp: Math.floor(Date.now() / 1000), ack_message_id: messageId, status }));
    },
    command: async (type, body) => {
      await client.publishAsync(t.command(type), typeof body === 'string' ? body : JSON.stringify(body));
    },
    publishRaw: async (topic, payload) => {
      await client.publishAsync(topic, payload);
    },
    close: () => client.endAsync(),
  };
  client.on('message', (topic, buf) => {
    const parts = topic.split('/');
    const type = parts[1] === 'commands' ? 'command_result' : (parts[1] ?? '');
    let payload: any;
    try {
      payload = JSON.parse(buf.toString('utf8'));
    } catch {
      payload = buf.toString('utf8');
    }
    const r: Received = { topic, type, payload, at: Date.now() };
    peer.received.push(r);
    if (!ackRequired.has(type) || !payload?.message_id) return;
    const p = peer.policy;
    const status = p === 'all' ? 'received' : p === 'none' ? null : p === 'error' ? 'error' : p(r);
    if (status) void peer.ack(payload.message_id, status).catch(() => undefined);
  });
  try {
    await connected;
  } catch (err) {
    await client.endAsync(true);
    throw err;
  }
  client.on('error', () => undefined);
  await client.subscribeAsync([`${prefix}/+/${deviceId}`, t.commandResult], { qos: opts.session === undefined ? 0 : 1 });
  return peer;
}
