/**
 * Counters and histograms shared across processes: each app adds to one
 * Redis hash (`keys.metrics`), the dashboard turns it into Prometheus text.
 * Field names: `<name>` or `<name>{label="value",...}`; histograms add
 * `<name>_bucket{le="..."}`, `<name>_sum` and `<name>_count`.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export type Labels = Record<string, string | number>;

/** ACK latency and event-path buckets, milliseconds. */
export const latencyBucketsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30_000, 120_000] as const;

export function metricField(name: string, labels?: Labels): string {
  if (!labels || Object.keys(labels).length === 0) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, '_')}"`);
  return `${name}{${parts.join(',')}}`;
}

export interface Metrics {
  incr(name: string, labels?: Labels, by?: number): void;
  observe(name: string, value: number, labels?: Labels): void;
  /** Set a gauge (last value wins). */
  set(name: string, value: number, labels?: Labels): void;
}

/** Fire-and-forget: a metric write never blocks or fails the money path. */
export function redisMetrics(redis: Redis, keys: RedisKeys): Metrics {
  const swallow = () => undefined;
  return {
    incr(name, labels, by = 1) {
      redis.hincrby(keys.metrics, metricField(name, labels), by).catch(swallow);
    },
    observe(name, value, labels) {
      const m = redis.multi();
      for (const le of latencyBucketsMs) if (value <= le) m.hincrby(keys.metrics, metricField(`${name}_bucket`, { ...labels, le }), 1);
      m.hincrby(keys.metrics, metricField(`${name}_bucket`, { ...labels, le: '+Inf' }), 1);
      m.hincrbyfloat(keys.metrics, metricField(`${name}_sum`, labels), value);
      m.hincrby(keys.metrics, metricField(`${name}_count`, labels), 1);
      m.exec().catch(swallow);
    },
    set(name, value, labels) {
      redis.hset(keys.metrics, metricField(name, labels), value).catch(swallow);
    },
  };
}
