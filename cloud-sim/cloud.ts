/**
 * The cloud, simulated (demo profile): receives every device message,
 * prints one line for it, and ACKs the ACK-required ones on
 * `…/ack/{device}` with `ack_message_id` (docs/protocol.md#4-ack-and-retransmission) according to the
 * policy in force.
 */
import type { MqttClient } from 'mqtt';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisKeys } from '../shared/keys.js';
import { ackRequired, type Topics } from '../shared/topics.js';
import { formatTimestamp } from '../shared/clock.js';
import { envelopeSchema } from '../shared/messages.js';
import { describeMessage } from './describe.js';
import { readPolicy, type AckPolicy } from '../shared/cloud-sim-policy.js';

export interface CloudSimOptions {
  client: MqttClient;
  topics: Topics;
  topicPrefix: string;
  deviceId: string;
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
  /** Where the readable lines go (stdout under PM2: `pm2 logs cloud-sim`). */
  print: (line: string) => void;
  now: () => number;
}

export interface CloudSim {
  close(): Promise<void>;
}

/** Device → cloud topics: every `{prefix}/{type}/{device}` plus command results. */
export function cloudSubscriptions(prefix: string, deviceId: string, t: Topics): string[] {
  return [`${prefix}/+/${deviceId}`, t.commandResult];
}

export async function startCloudSim(o: CloudSimOptions): Promise<CloudSim> {
  const timers = new Set<NodeJS.Timeout>();
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

  const ack = async (messageId: string, status: 'received' | 'error') => {
    const body: Record<string, unknown> = { timestamp: formatTimestamp(o.now(), 'unix'), ack_message_id: messageId, status };
    if (status === 'error') body.error_message = 'cloud simulator: ACK policy "error"';
    await o.client.publishAsync(o.topics.ack, JSON.stringify(body));
  };

  const answer = async (messageId: string, policy: AckPolicy): Promise<string> => {
    switch (policy.kind) {
      case 'ack-none':
        return 'not acked (policy ack-none)';
      case 'error':
        await ack(messageId, 'error');
        return 'acked error';
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          ack(messageId, 'received').catch((err: Error) => o.log.warn({ err: err.message }, 'delayed ACK failed'));
        }, policy.ms);
        timers.add(timer);
        return `ack in ${policy.ms} ms`;
      }
      default:
        await ack(messageId, 'received');
        return 'acked';
    }
  };

  const onMessage = async (topic: string, buf: Buffer): Promise<void> => {
    const parts = topic.split('/');
    const type = parts[1] === 'commands' ? 'command_result' : (parts[1] ?? '');
    // Our own ACKs come back through the `+` subscription.
    if (type === 'ack') return;
    let payload: unknown;
    try {
      payload = JSON.parse(buf.toString('utf8'));
    } catch {
      o.print(`${clock(o.now())} ${type} NOT JSON: ${buf.toString('utf8').slice(0, 120)}`);
      return;
    }
    let outcome = '';
    if (ackRequired.has(type)) {
      const env = envelopeSchema.safeParse(payload);
      if (!env.success) {
        o.print(`${clock(o.now())} ${type} INVALID envelope: ${env.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        return;
      }
      outcome = ` -> ${await answer(env.data.message_id, await readPolicy(o.redis, o.keys))}`;
    }
    o.print(`${clock(o.now())} ${describeMessage(type, payload)}${outcome}`);
  };

  o.client.on('message', (topic, buf) => {
    onMessage(topic, buf).catch((err: Error) => o.log.warn({ err: err.message, topic }, 'cannot handle device message'));
  });
  // Subscribe on every connect: with a clean session the broker forgets subscriptions.
  const subscribe = () =>
    o.client.subscribeAsync(cloudSubscriptions(o.topicPrefix, o.deviceId, o.topics)).catch((err: Error) => o.log.warn({ err: err.message }, 'subscribe failed'));
  o.client.on('connect', () => void subscribe());
  if (o.client.connected) await subscribe();
  o.print(`cloud simulator for ${o.deviceId}: ACK policy ${(await readPolicy(o.redis, o.keys)).kind} (change with: coinerex cloud policy …)`);

  return {
    // The broker client is the entry's (main.ts) to end.
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
