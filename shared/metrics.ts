/**
 * Counters, histograms and gauges shared across processes: each app adds to one
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
  /** Write what is buffered now; resolves once written (or dropped on a Redis error). */
  flush?(): Promise<void>;
  /** Flush and stop the flush timer. */
  close?(): Promise<void>;
}

export interface BufferedMetrics extends Metrics {
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Aggregates in memory and writes the hash with one MULTI at most `flushMs`
 * after the first observation buffered: one write per observation cost a
 * Redis round trip (and, under `appendfsync always`, an fsync) on the money
 * path. The timer is armed only when there is something to write, so an idle
 * app does not wake for it. A metric write never blocks or fails the caller;
 * a failed flush drops that batch.
 */
export function redisMetrics(redis: Redis, keys: RedisKeys, flushMs = 1000): BufferedMetrics {
  let counters = new Map<string, number>();
  let floats = new Map<string, number>();
  let gauges = new Map<string, number>();
  // Last value handed to a write per gauge: setting a gauge to the value it has is no write (an idle app sets the same ones again and again).
  const written = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const arm = () => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, flushMs);
    timer.unref();
  };
  const add = (into: Map<string, number>, field: string, by: number) => {
    into.set(field, (into.get(field) ?? 0) + by);
    arm();
  };

  let writing: Promise<void> = Promise.resolve();
  const write = async (): Promise<void> => {
    if (counters.size + floats.size + gauges.size === 0) return;
    const batch = { counters, floats, gauges };
    counters = new Map();
    floats = new Map();
    gauges = new Map();
    const m = redis.multi();
    for (const [field, by] of batch.counters) {
      if (Number.isInteger(by)) m.hincrby(keys.metrics, field, by);
      else m.hincrbyfloat(keys.metrics, field, by);
    }
    for (const [field, by] of batch.floats) m.hincrbyfloat(keys.metrics, field, by);
    for (const [field, value] of batch.gauges) {
      m.hset(keys.metrics, field, value);
      written.set(field, value);
    }
    await m.exec().then(
      () => undefined,
      () => {
        for (const [field, value] of batch.gauges) if (written.get(field) === value) written.delete(field);
      },
    );
  };
  // Chained, so a flush resolves only after everything buffered before it is written.
  const flush = () => (writing = writing.then(write));

  return {
    incr(name, labels, by = 1) {
      add(counters, metricField(name, labels), by);
    },
    observe(name, value, labels) {
      for (const le of latencyBucketsMs) if (value <= le) add(counters, metricField(`${name}_bucket`, { ...labels, le }), 1);
      add(counters, metricField(`${name}_bucket`, { ...labels, le: '+Inf' }), 1);
      add(floats, metricField(`${name}_sum`, labels), value);
      add(counters, metricField(`${name}_count`, labels), 1);
    },
    set(name, value, labels) {
      const field = metricField(name, labels);
      if (written.get(field) === value) gauges.delete(field);
      else {
        gauges.set(field, value);
        arm();
      }
    },
    flush,
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      return flush();
    },
  };
}
