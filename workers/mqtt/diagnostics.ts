/**
 * Heartbeat diagnostics (`query` with `include_diagnostics`, PROTOCOL.md §7):
 * queue depths, the delivery state and how fresh each app's liveness beat is.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock.js';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import type { RedisKeys } from '../../shared/keys.js';

export async function readDiagnostics(redis: Redis, keys: RedisKeys, queues: readonly Queue[], clock: Clock): Promise<Record<string, unknown>> {
  const livePrefix = keys.liveness('');
  const [delivery, counts, liveKeys] = await Promise.all([
    readDeliveryStats(redis, keys),
    Promise.all(queues.map((q) => q.getJobCounts('wait', 'active', 'delayed', 'failed'))),
    scanAll(redis, `${livePrefix}*`),
  ]);
  const beats = liveKeys.length > 0 ? await redis.mget(...liveKeys) : [];
  const now = clock.now();
  return {
    delivery,
    queues: Object.fromEntries(queues.map((q, i) => [q.name, counts[i]])),
    liveness_age_ms: Object.fromEntries(liveKeys.map((k, i) => [k.slice(livePrefix.length), beats[i] ? now - Number(beats[i]) : null])),
  };
}

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}
