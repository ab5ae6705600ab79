/**
 * A guarded atomic write: every state change of the business app is a Plan
 * that one Lua script applies all at once or not at all (docs/architecture.md#invariant-1 and docs/architecture.md#invariant-2). The script first checks the guards (keys that must
 * be absent, e.g. `applied:<eventId>`) and expectations (hash fields that
 * must hold a value, e.g. an intent still `sent`), then writes. A replay —
 * a BullMQ job re-run after a stall, or ioredis resending a command whose
 * reply was lost (docs/pitfalls.md#1-bullmq, docs/pitfalls.md#3-redis-durability-and-ioredis) — finds its guard set and changes
 * nothing. Messages committed by a plan go to the `unsent` list in the same
 * script (a transactional outbox) and optionally into the journal.
 */
import type { Redis } from 'ioredis';
import type { Envelope } from '../../../shared/messages.js';
import type { RedisKeys } from '../../../shared/keys.js';

type Expect = [key: string, field: string, mode: 'eq' | 'absent' | 'present', value?: string];
interface Emit {
  /** Index into ARGV (1-based after the plan) of the envelope JSON without `seq`. */
  env: number;
  journal?: { entryKey: string; indexKey: string; member: string; score: string };
}

interface PlanJson {
  seqKey: string | null;
  unsentKey: string;
  guards: [key: string, ttlSeconds: string][];
  expect: Expect[];
  hset: [key: string, field: string, value: string][];
  hdel: [key: string, field: string][];
  hincr: [key: string, field: string, by: string][];
  /** Set only where the hash exists, after the increments (never creates a key). */
  hsetx: [key: string, field: string, value: string][];
  /** Fields clamped at 0 after the increments (a books inventory never goes negative). */
  floor0: [key: string, field: string][];
  del: string[];
  expire: [key: string, seconds: string][];
  lpush: [key: string, value: string][];
  rpush: [key: string, value: string][];
  lrem: [key: string, value: string][];
  zadd: [key: string, score: string, member: string][];
  emits: Emit[];
}

const SCRIPT = `
local plan = cjson.decode(ARGV[1])
for _, g in ipairs(plan.guards) do
  if redis.call('EXISTS', g[1]) == 1 then return 'dup' end
end
for _, e in ipairs(plan.expect) do
  local v = redis.call('HGET', e[1], e[2])
  if e[3] == 'absent' then
    if v then return 'stale' end
  elseif e[3] == 'present' then
    if not v then return 'stale' end
  elseif v ~= e[4] then
    return 'stale'
  end
end
for _, g in ipairs(plan.guards) do
  if tonumber(g[2]) > 0 then redis.call('SET', g[1], '1', 'EX', g[2]) else redis.call('SET', g[1], '1') end
end
for _, x in ipairs(plan.hset) do redis.call('HSET', x[1], x[2], x[3]) end
for _, x in ipairs(plan.hdel) do redis.call('HDEL', x[1], x[2]) end
for _, x in ipairs(plan.hincr) do redis.call('HINCRBY', x[1], x[2], x[3]) end
for _, x in ipairs(plan.hsetx) do
  if redis.call('EXISTS', x[1]) == 1 then redis.call('HSET', x[1], x[2], x[3]) end
end
for _, x in ipairs(plan.floor0) do
  if tonumber(redis.call('HGET', x[1], x[2]) or '0') < 0 then redis.call('HSET', x[1], x[2], '0') end
end
for _, x in ipairs(plan.lrem) do redis.call('LREM', x[1], 0, x[2]) end
for _, x in ipairs(plan.lpush) do redis.call('LPUSH', x[1], x[2]) end
for _, x in ipairs(plan.rpush) do redis.call('RPUSH', x[1], x[2]) end
for _, x in ipairs(plan.zadd) do redis.call('ZADD', x[1], x[2], x[3]) end
for _, k in ipairs(plan.del) do redis.call('DEL', k) end
for _, x in ipairs(plan.expire) do redis.call('EXPIRE', x[1], x[2]) end
for _, m in ipairs(plan.emits) do
  local env = ARGV[m.env + 1]
  local seq = 0
  if plan.seqKey ~= cjson.null and plan.seqKey then seq = redis.call('INCR', plan.seqKey) end
  redis.call('RPUSH', plan.unsentKey, '{"seq":' .. seq .. ',"envelope":' .. env .. '}')
  if m.journal then
    local j = m.journal
    redis.call('HSET', j.entryKey, 'envelope', env, 'seq', seq, 'at', j.score)
    redis.call('ZADD', j.indexKey, j.score, j.member)
  end
end
return 'ok'
`;

export type CommitResult = 'ok' | 'dup' | 'stale';

type WithPlan = Redis & { coinerexPlan(plan: string, ...envelopes: string[]): Promise<CommitResult> };

/** Registers the script on a connection (EVALSHA with automatic reload). */
function scripted(redis: Redis): WithPlan {
  const r = redis as WithPlan;
  if (typeof r.coinerexPlan !== 'function') redis.defineCommand('coinerexPlan', { numberOfKeys: 0, lua: SCRIPT });
  return r;
}

export class Plan {
  private readonly parts: PlanJson;
  private readonly envelopes: string[] = [];
  private readonly committed: (() => void)[] = [];

  constructor(keys: RedisKeys, seqEnabled: boolean) {
    this.parts = {
      seqKey: seqEnabled ? keys.messageSeq : null,
      unsentKey: keys.unsent,
      guards: [], expect: [], hset: [], hdel: [], hincr: [], hsetx: [], floor0: [], del: [], expire: [],
      lpush: [], rpush: [], lrem: [], zadd: [], emits: [],
    };
  }

  /** The plan applies only while `key` does not exist; it then sets it (ttl 0 = for ever). */
  guard(key: string, ttlSeconds: number): this {
    this.parts.guards.push([key, String(ttlSeconds)]);
    return this;
  }
  expectEq(key: string, field: string, value: string): this {
    this.parts.expect.push([key, field, 'eq', value]);
    return this;
  }
  expectAbsent(key: string, field: string): this {
    this.parts.expect.push([key, field, 'absent']);
    return this;
  }
  expectPresent(key: string, field: string): this {
    this.parts.expect.push([key, field, 'present']);
    return this;
  }
  hset(key: string, fields: Record<string, string | number>): this {
    for (const [f, v] of Object.entries(fields)) this.parts.hset.push([key, f, String(v)]);
    return this;
  }
  hdel(key: string, field: string): this {
    this.parts.hdel.push([key, field]);
    return this;
  }
  hincr(key: string, fields: Record<string, number>): this {
    for (const [f, by] of Object.entries(fields)) if (by !== 0) this.parts.hincr.push([key, f, String(by)]);
    return this;
  }
  /** HSET where `key` exists when the plan applies (after the plan's increments); a missing hash stays missing. */
  hsetIfExists(key: string, field: string, value: string | number): this {
    this.parts.hsetx.push([key, field, String(value)]);
    return this;
  }
  floor0(key: string, field: string): this {
    this.parts.floor0.push([key, field]);
    return this;
  }
  del(key: string): this {
    this.parts.del.push(key);
    return this;
  }
  expire(key: string, seconds: number): this {
    this.parts.expire.push([key, String(seconds)]);
    return this;
  }
  lpush(key: string, value: string): this {
    this.parts.lpush.push([key, value]);
    return this;
  }
  rpush(key: string, value: string): this {
    this.parts.rpush.push([key, value]);
    return this;
  }
  lrem(key: string, value: string): this {
    this.parts.lrem.push([key, value]);
    return this;
  }
  zadd(key: string, score: number, member: string): this {
    this.parts.zadd.push([key, String(score), member]);
    return this;
  }
  /** Commits `envelope` (without `seq`; the script numbers it) to the unsent list, and to the journal when given. */
  emit(envelope: Envelope, journal?: { entryKey: string; indexKey: string; member: string; at: number }): this {
    const { seq: _drop, ...bare } = envelope;
    this.envelopes.push(JSON.stringify(bare));
    const e: Emit = { env: this.envelopes.length };
    if (journal) e.journal = { entryKey: journal.entryKey, indexKey: journal.indexKey, member: journal.member, score: String(journal.at) };
    this.parts.emits.push(e);
    return this;
  }

  /** Runs `fn` once the plan has applied (its log lines and metrics: what did not happen is not told). */
  onCommitted(fn: () => void): this {
    this.committed.push(fn);
    return this;
  }

  async commit(redis: Redis): Promise<CommitResult> {
    const result = await scripted(redis).coinerexPlan(JSON.stringify(this.parts), ...this.envelopes);
    if (result === 'ok') for (const fn of this.committed) fn();
    return result;
  }
}
