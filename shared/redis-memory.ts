/**
 * Redis memory against its `maxmemory` (deploy/redis.conf: 128 MB,
 * noeviction). Past the limit every write fails — a credit, a payout's end,
 * an error message — so the agent stops taking cash well before
 * (COINEREX_REDIS_MEMORY_ALARM_PERCENT, docs/durability.md).
 */
import type { Redis } from 'ioredis';

export interface RedisMemory {
  /** `used_memory`, bytes. */
  used: number;
  /** `maxmemory`, bytes; 0 = no limit. */
  max: number;
}

export async function readRedisMemory(redis: Redis): Promise<RedisMemory> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { used: field('used_memory'), max: field('maxmemory') };
}

/** Share of maxmemory in use, percent (one decimal); null without a limit. */
export const memoryPercent = (m: RedisMemory): number | null => (m.max > 0 ? Math.round((m.used / m.max) * 1000) / 10 : null);

/** At or over `alarmPercent` of maxmemory. */
export const memoryHigh = (m: RedisMemory, alarmPercent: number): boolean => m.max > 0 && m.used * 100 >= m.max * alarmPercent;

/** A write Redis refused for memory (`OOM command not allowed when used memory > 'maxmemory'`). */
export const isOomError = (err: unknown): boolean => err instanceof Error && /\bOOM\b/.test(err.message);
