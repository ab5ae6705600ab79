/**
 * The policy for what is never buffered (heartbeat, status, messages without
 * ACK, docs/protocol.md#offline-buffer): sent if the link is up, otherwise
 * counted and dropped.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../../shared/metrics.js';
import type { DeliveryStore } from './delivery-store.js';
import type { MqttLink } from './link.js';

export type DirectSend = (kind: string, topic: string, payload: string) => Promise<void>;

export function directSender(link: Pick<MqttLink, 'up' | 'publish'>, store: Pick<DeliveryStore, 'countSkipped'>, metrics: Metrics, log: Logger): DirectSend {
  return async (kind, topic, payload) => {
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
}
