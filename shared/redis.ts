/**
 * Redis connections for workers, producers and app state (docs/pitfalls.md#1-bullmq,
 * docs/pitfalls.md#3-redis-durability-and-ioredis). Apart from queue/connection.ts so that an app without queues (the
 * supervisor) does not load BullMQ: ~10 MB of the board's memory.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { installCrashPointHook } from './crash-point.js';

// Test-only; does nothing unless COINEREX_CRASH_POINT or COINEREX_CRASH_TRACE is set (shared/crash-point.ts).
installCrashPointHook();

const common: RedisOptions = {
  // RESP2: BullMQ is tested against it; ioredis 6 defaults to RESP3.
  protocol: 2,
  connectionName: undefined,
  retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 5_000),
};

/** A connection for a Worker or for app state: waits for Redis instead of failing. */
export function workerConnection(url: string, name?: string): Redis {
  return new Redis(url, { ...common, connectionName: name, maxRetriesPerRequest: null });
}

/** A connection for producers: fails fast while Redis is down (BullMQ "failing fast"). */
export function producerConnection(url: string, name?: string): Redis {
  return new Redis(url, { ...common, connectionName: name, maxRetriesPerRequest: 1, enableOfflineQueue: false });
}

/** ioredis reconnects by itself; its errors are only logged, never thrown at the app. */
export function logErrors<T extends Redis>(connection: T, log: { warn(obj: object, msg: string): void }): T {
  connection.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  return connection;
}
