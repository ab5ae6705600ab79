/**
 * The remote-dispense limit per local day (docs/protocol.md#coin_dispense, default 1000
 * coins): coins are reserved per command before paying and settled to what
 * was actually paid after. Both steps are Lua scripts keyed by command id, so
 * a re-run (ioredis resends an unanswered command after a reconnect, BullMQ
 * re-runs a stalled job) never counts a command twice.
 */
import type { Redis } from 'ioredis';

/** Hash fields: `total`, and `cmd:<command id>` per command, so no command id can collide with the total. */
const TOTAL = 'total';
const field = (commandId: string) => `cmd:${commandId}`;
/** A day's hash outlives the day so a clock stepping back a little still finds it. */
const TTL_SECONDS = 3 * 86_400;

// KEYS[1] day hash; ARGV: commandId, coins, max, ttl, total field. Returns {reserved 1|0, total after}.
const reserveScript = `
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[5]) or '0')
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {1, total} end
local coins = tonumber(ARGV[2])
if total + coins > tonumber(ARGV[3]) then return {0, total} end
redis.call('HSET', KEYS[1], ARGV[1], coins)
redis.call('HINCRBY', KEYS[1], ARGV[5], coins)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, total + coins}`;

// KEYS[1] day hash; ARGV: commandId, coins actually paid, total field.
const settleScript = `
local reserved = redis.call('HGET', KEYS[1], ARGV[1])
if not reserved then return 0 end
local paid = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], paid)
redis.call('HINCRBY', KEYS[1], ARGV[3], paid - tonumber(reserved))
return 1`;

export interface DispenseQuota {
  /** Reserves `coins` of the day's allowance; false (with the day's total) when that would pass `max`. */
  reserve(dayKey: string, commandId: string, coins: number, max: number): Promise<{ reserved: boolean; total: number }>;
  /** Sets the command's share to the coins actually paid (0 releases it). */
  settle(dayKey: string, commandId: string, paid: number): Promise<void>;
}

export function dispenseQuota(redis: Redis): DispenseQuota {
  return {
    async reserve(dayKey, commandId, coins, max) {
      const [reserved, total] = (await redis.eval(reserveScript, 1, dayKey, field(commandId), coins, max, TTL_SECONDS, TOTAL)) as [number, number];
      return { reserved: reserved === 1, total };
    },
    async settle(dayKey, commandId, paid) {
      await redis.eval(settleScript, 1, dayKey, field(commandId), paid, TOTAL);
    },
  };
}
