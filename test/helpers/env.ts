/**
 * Test isolation (docs/architecture.md#test-isolation): every test gets its own device id and Redis key
 * prefix, so test files running side by side never see each other's state.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../shared/config.js';
import { redisKeys, type RedisKeys } from '../../shared/keys.js';

export const REDIS_URL = process.env.COINEREX_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const MQTT_URL = process.env.COINEREX_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

export interface TestEnv {
  deviceId: string;
  prefix: string;
  /** COINEREX_* variables for child processes and loadConfig(). */
  env: Record<string, string>;
  config: Config;
  keys: RedisKeys;
}

/** A fresh device id and key prefix, fast intervals, plus any overrides (COINEREX_* names). */
export function testEnv(overrides: Record<string, string> = {}): TestEnv {
  const tag = randomUUID().replace(/-/g, '').slice(0, 10);
  const env: Record<string, string> = {
    COINEREX_DEVICE_ID: `T_${tag}`,
    COINEREX_REDIS_PREFIX: `t${tag}`,
    COINEREX_REDIS_URL: REDIS_URL,
    COINEREX_MQTT_URL: MQTT_URL,
    COINEREX_MODE: 'demo',
    COINEREX_SIM_CUSTOMERS_PER_MINUTE: '0',
    COINEREX_SIM_PAYOUT_MS: '1',
    COINEREX_LOG_LEVEL: 'warn',
    COINEREX_LOG_PRETTY: '0',
    ...overrides,
  };
  const config = loadConfig(env);
  return { deviceId: config.deviceId, prefix: config.redisPrefix, env, config, keys: redisKeys(config.redisPrefix, config.deviceId) };
}

/** Deletes every key under the test's prefix. */
export async function cleanupRedis(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await redis.unlink(...found);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes (no fixed sleeps). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what = 'condition', everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * For "nothing happens" assertions: reads `read` for `ms` and resolves with the
 * first reading that differs from the initial one (compared as JSON), or the
 * last reading when nothing changed. Returns early on a change, so a failure is fast.
 */
export async function watchUnchanged<T>(read: () => T | Promise<T>, ms: number, everyMs = 100): Promise<{ before: T; after: T }> {
  const before = await read();
  const deadline = Date.now() + ms;
  let after = before;
  while (Date.now() < deadline && JSON.stringify(after) === JSON.stringify(before)) {
    await new Promise((r) => setTimeout(r, everyMs));
    after = await read();
  }
  return { before, after };
}
