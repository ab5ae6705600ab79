/**
 * `GET /health`: healthy when Redis answers with memory to spare (below
 * COINEREX_REDIS_MEMORY_ALARM_PERCENT of maxmemory), the mqtt app reports
 * the broker link up, every agent app beats within the watchdog window, and
 * no hardware event is stuck (workers/business/events-worker.ts: a money
 * event the business app keeps failing to apply is retried for ever, never
 * dropped).
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../shared/keys.js';
import { readLiveness, readMqttLink } from '../shared/app-health.js';
import { memoryHigh, memoryPercent, readRedisMemory } from '../shared/redis-memory.js';

export interface HealthReport {
  status: 'ok' | 'fail';
  /** Why it is failing, one line per problem; empty when ok. */
  reasons: string[];
  redis: 'ok' | 'unreachable';
  /** Redis used_memory against maxmemory, percent; null without a limit or when unreachable. */
  redisMemoryPercent: number | null;
  broker: 'connected' | 'disconnected' | 'unknown';
  /** Epoch ms of the last broker link change, when known. */
  brokerSince: number | null;
  apps: Record<string, { alive: boolean; lastBeatAt: number | null }>;
  checkedAt: number;
}

export interface HealthOptions {
  redis: Redis;
  keys: RedisKeys;
  /** Apps that must be beating. */
  apps: readonly string[];
  /** A beat older than this is a dead app (COINEREX_WATCHDOG_SECONDS). */
  watchdogMs: number;
  now: () => number;
  /** Redis must answer within this, ms. */
  timeoutMs?: number;
  /** Fail at this share of maxmemory, percent. Default 80. */
  memoryAlarmPercent?: number;
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function checkHealth(o: HealthOptions): Promise<HealthReport> {
  const now = o.now();
  const report: HealthReport = { status: 'ok', reasons: [], redis: 'ok', redisMemoryPercent: null, broker: 'unknown', brokerSince: null, apps: {}, checkedAt: now };
  const timeoutMs = o.timeoutMs ?? 2_000;
  try {
    const [link, beats, memory, stuck] = await within(
      Promise.all([readMqttLink(o.redis, o.keys), readLiveness(o.redis, o.keys, o.apps), readRedisMemory(o.redis), o.redis.hgetall(o.keys.eventStuck)]),
      timeoutMs,
    );
    report.redisMemoryPercent = memoryPercent(memory);
    const alarm = o.memoryAlarmPercent ?? 80;
    if (memoryHigh(memory, alarm)) report.reasons.push(`redis memory at ${report.redisMemoryPercent} % of maxmemory (alarm at ${alarm} %): cash intake stopped`);
    if (stuck.jobId !== undefined) {
      const since = Number(stuck.since);
      report.reasons.push(`hardware event ${stuck.kind} (job ${stuck.jobId}) cannot be applied since ${new Date(since).toISOString()}, ${stuck.attempts} attempts: ${stuck.error}`);
    }
    if (link === null) report.reasons.push('broker link unknown: the mqtt app has not reported it');
    else {
      report.broker = link.connected ? 'connected' : 'disconnected';
      report.brokerSince = link.since;
      if (!link.connected) report.reasons.push(`broker disconnected${link.since ? ` since ${new Date(link.since).toISOString()}` : ''}`);
    }
    for (const app of o.apps) {
      const beat = beats.get(app) ?? null;
      const alive = beat !== null && now - beat <= o.watchdogMs;
      report.apps[app] = { alive, lastBeatAt: beat };
      if (!alive) report.reasons.push(beat === null ? `app ${app} is not running (no liveness beat)` : `app ${app} is not beating (last beat ${Math.round((now - beat) / 1000)} s ago)`);
    }
  } catch (err) {
    report.redis = 'unreachable';
    report.reasons.push(`redis unreachable: ${(err as Error).message}`);
  }
  if (report.reasons.length > 0) report.status = 'fail';
  return report;
}
