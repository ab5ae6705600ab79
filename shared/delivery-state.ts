/**
 * Read-only view of the mqtt app's delivery state (docs/protocol.md#4-ack-and-retransmission) for the
 * CLI `status`, the dashboard and heartbeat diagnostics. Only the mqtt app
 * writes these keys (workers/mqtt/delivery-store.ts).
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface DeliveryStats {
  /** Sent, waiting for the cloud's ACK. */
  pending: number;
  /** Held in the offline buffer, waiting to be sent. */
  buffered: number;
  /** Given up after the last retransmission; kept in `outFailed` for inspection. */
  failed: number;
  /** Dropped by the offline-buffer overflow rule (oldest first). */
  dropped: number;
  /** Older unsent accounting snapshots replaced by a newer one. */
  superseded: number;
  retransmits: number;
  giveups: number;
  acked: number;
  /** Heartbeat, status and command results not sent because the link was down (never buffered). */
  skipped: number;
}

const n = (v: string | undefined): number => (v === undefined ? 0 : Number(v) || 0);

export async function readDeliveryStats(redis: Redis, keys: RedisKeys): Promise<DeliveryStats> {
  const [pending, buffered, failed, stats] = await Promise.all([
    redis.zcard(keys.outDue),
    redis.zcard(keys.outBuffer),
    redis.hlen(keys.outFailed),
    redis.hgetall(keys.outStats),
  ]);
  const skipped = Object.entries(stats)
    .filter(([k]) => k.startsWith('skipped_'))
    .reduce((sum, [, v]) => sum + n(v), 0);
  return {
    pending,
    buffered,
    failed,
    dropped: n(stats.dropped),
    superseded: n(stats.superseded),
    retransmits: n(stats.retransmits),
    giveups: n(stats.giveups),
    acked: n(stats.acked),
    skipped,
  };
}
