/**
 * Heartbeat diagnostics (`query` with `include_diagnostics`, docs/protocol.md#query):
 * queue depths, the delivery state, and per app its liveness, uptime,
 * restarts and memory as the supervisor last saw them.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock.js';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { ecosystemApps, readAppsHealth, readLiveness } from '../../shared/app-health.js';
import type { RedisKeys } from '../../shared/keys.js';

export async function readDiagnostics(redis: Redis, keys: RedisKeys, queues: readonly Queue[], clock: Clock): Promise<Record<string, unknown>> {
  const [delivery, counts, beats, health] = await Promise.all([
    readDeliveryStats(redis, keys),
    Promise.all(queues.map((q) => q.getJobCounts('wait', 'active', 'delayed', 'failed'))),
    readLiveness(redis, keys, ecosystemApps),
    readAppsHealth(redis, keys),
  ]);
  const now = clock.now();
  const apps: Record<string, unknown> = {};
  for (const name of ecosystemApps) {
    const h = health.find((x) => x.name === name);
    const beat = beats.get(name) ?? null;
    if (!h && beat === null) continue;
    apps[name] = {
      status: h?.status ?? null,
      liveness_age_ms: beat === null ? null : now - beat,
      uptime_seconds: h?.startedAt ? Math.max(0, Math.floor((now - h.startedAt) / 1000)) : null,
      restarts: h?.pm2Restarts ?? null,
      watchdog_restarts: h?.watchdogRestarts ?? null,
      memory_mb: h?.memoryBytes != null ? Math.round(h.memoryBytes / 1048576) : null,
    };
  }
  return {
    delivery,
    queues: Object.fromEntries(queues.map((q, i) => [q.name, counts[i]])),
    apps,
  };
}
