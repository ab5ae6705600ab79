/**
 * Durable delivery state of ACK-required messages (docs/protocol.md#4-ack-and-retransmission), one
 * atomic Lua script per transition so a crash at any point (kill -9
 * included) leaves a consistent state that the next process continues.
 *
 * Layout (shared/keys.ts):
 *  - `outMessage(id)` hash: topic, payload (the exact bytes sent every time),
 *    type, sup ('1' = a post-transaction accounting that a newer one may
 *    supersede), order, attempts (sends so far), sentAt (ms of the last send),
 *    remaining (ms left of the current wait when the link dropped), createdAt.
 *  - `outOrder` zset: every unsettled id by production order.
 *  - `outDue` zset: in-flight ids by the absolute epoch ms of their next
 *    action (resend or give up). Absolute, so a restarted process continues
 *    each schedule where it was.
 *  - `outBuffer` zset: ids waiting to be sent (offline buffer), production order.
 *  - `outFailed` hash: given-up messages by id (JSON), kept for inspection;
 *    the newest `failedLimit` only (`outFailedOrder` zset by give-up time):
 *    older ones are dropped and counted (`failed_dropped`), so the hash cannot
 *    grow until Redis is full. A given-up transaction stays in the journal.
 *  - `outStats` hash: counters (see shared/delivery-state.ts).
 *  - `outDone(id)`: tombstone so a re-run outbox job never revives a finished id.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../shared/keys.js';

/** Long enough to outlive a BullMQ stalled-job re-run (30 s checks) after a crash and restart. */
const TOMBSTONE_SECONDS = 900;

const header = `
local order, due, buffer, stats, failed, counter, failedOrder = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local msgp, donep, doneTtl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function retire(id)
  redis.call('ZREM', order, id)
  redis.call('ZREM', due, id)
  redis.call('ZREM', buffer, id)
  redis.call('DEL', msgp .. id)
  redis.call('SET', donep .. id, '1', 'EX', doneTtl)
end
-- docs/protocol.md#offline-buffer: at overflow the oldest buffered message is dropped and counted.
local function overflow(limit)
  local dropped = {}
  local extra = redis.call('ZCARD', buffer) - limit
  if extra > 0 then
    for _, id in ipairs(redis.call('ZRANGE', buffer, 0, extra - 1)) do
      table.insert(dropped, {id, redis.call('HGET', msgp .. id, 'type') or ''})
      retire(id)
    end
    redis.call('HINCRBY', stats, 'dropped', #dropped)
  end
  return dropped
end
-- Keeps the newest limit given-up messages; entries from before the order index are indexed (oldest) first.
local function boundFailed(limit)
  local n = redis.call('HLEN', failed)
  if n <= limit then return end
  if redis.call('ZCARD', failedOrder) < n then
    for _, id in ipairs(redis.call('HKEYS', failed)) do
      if not redis.call('ZSCORE', failedOrder, id) then redis.call('ZADD', failedOrder, 0, id) end
    end
  end
  local extra = redis.call('ZCARD', failedOrder) - limit
  if extra > 0 then
    for _, id in ipairs(redis.call('ZRANGE', failedOrder, 0, extra - 1)) do redis.call('HDEL', failed, id) end
    redis.call('ZREMRANGEBYRANK', failedOrder, 0, extra - 1)
    redis.call('HINCRBY', stats, 'failed_dropped', extra)
  end
end
-- ACKed ids from ARGV[first] on; per id {found, sentAt, attempts, type} (found 0: unknown or already settled).
local function settle(first)
  local out, found = {}, 0
  for i = first, #ARGV do
    local id = ARGV[i]
    local m = redis.call('HMGET', msgp .. id, 'sentAt', 'attempts', 'type')
    if m[3] then
      retire(id)
      found = found + 1
      table.insert(out, {1, m[1] or '', m[2] or '0', m[3]})
    else
      table.insert(out, {0, '', '0', ''})
    end
  end
  if found > 0 then redis.call('HINCRBY', stats, 'acked', found) end
  return out
end
`;

const scripts = {
  // ARGV: 4 id, 5 topic, 6 payload, 7 type, 8 sup, 9 now, 10 sent, 11 first wait ms, 12 limit, 13 replay, 14… ACKed ids to settle first.
  // sent = '1': the caller has already published it (the buffer was empty and the link up): record it in flight.
  // sent = '0': into the offline buffer (docs/protocol.md#offline-buffer), oldest dropped at overflow.
  coinerexOutAdd: `${header}
local settled = settle(14)
local id = ARGV[4]
local mk = msgp .. id
if redis.call('EXISTS', mk) == 1 then return {'duplicate', settled} end
if ARGV[13] == '1' then
  redis.call('DEL', donep .. id)
  redis.call('HDEL', failed, id)
  redis.call('ZREM', failedOrder, id)
elseif redis.call('EXISTS', donep .. id) == 1 or redis.call('HEXISTS', failed, id) == 1 then
  return {'duplicate', settled}
end
local now = tonumber(ARGV[9])
local seqno = redis.call('INCR', counter)
redis.call('ZADD', order, seqno, id)
if ARGV[10] == '1' then
  redis.call('HSET', mk, 'topic', ARGV[5], 'payload', ARGV[6], 'type', ARGV[7], 'sup', ARGV[8], 'order', seqno, 'attempts', 1, 'sentAt', now, 'createdAt', now)
  redis.call('ZADD', due, now + tonumber(ARGV[11]), id)
  return {'sent', settled}
end
redis.call('HSET', mk, 'topic', ARGV[5], 'payload', ARGV[6], 'type', ARGV[7], 'sup', ARGV[8], 'order', seqno, 'attempts', 0, 'createdAt', now)
local superseded = {}
if ARGV[8] == '1' then
  for _, other in ipairs(redis.call('ZRANGE', buffer, 0, -1)) do
    if redis.call('HGET', msgp .. other, 'sup') == '1' then
      table.insert(superseded, other)
      retire(other)
    end
  end
  if #superseded > 0 then redis.call('HINCRBY', stats, 'superseded', #superseded) end
end
redis.call('ZADD', buffer, seqno, id)
local dropped = overflow(tonumber(ARGV[12]))
return {'buffered', settled, redis.call('ZCARD', buffer), superseded, dropped}
`,
  // Moves the oldest buffered messages in flight. ARGV: 4 now, 5 gaps JSON (ms), 6 max
  coinerexOutTake: `${header}
local now = tonumber(ARGV[4])
local gaps = cjson.decode(ARGV[5])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', buffer, 0, tonumber(ARGV[6]) - 1)) do
  local mk = msgp .. id
  redis.call('ZREM', buffer, id)
  local m = redis.call('HMGET', mk, 'topic', 'payload', 'attempts', 'remaining')
  if m[1] then
    local attempts = tonumber(m[3]) or 0
    local wait, first
    if attempts == 0 then
      attempts, wait, first = 1, gaps[1], 1
    else
      -- Sent before the link dropped: send again now (it may have died with
      -- the link) and resume the paused wait; the attempt count is kept.
      wait, first = tonumber(m[4]) or gaps[attempts] or gaps[#gaps], 0
    end
    redis.call('HSET', mk, 'attempts', attempts, 'sentAt', now)
    redis.call('HDEL', mk, 'remaining')
    redis.call('ZADD', due, now + wait, id)
    table.insert(out, {id, m[1], m[2], first, now + wait})
  end
end
local nxt = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
return {out, redis.call('ZCARD', buffer), nxt[2] or ''}
`,
  // Resends or gives up every overdue in-flight message. ARGV: 4 now, 5 gaps JSON (ms), 6 max, 7 failed limit
  coinerexOutDue: `${header}
local now = tonumber(ARGV[4])
local gaps = cjson.decode(ARGV[5])
local resend, gaveup = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[6]))) do
  local mk = msgp .. id
  local m = redis.call('HMGET', mk, 'topic', 'payload', 'attempts', 'type')
  if not m[1] then
    redis.call('ZREM', due, id)
  else
    local attempts = tonumber(m[3]) or 1
    if attempts < #gaps then
      attempts = attempts + 1
      redis.call('HSET', mk, 'attempts', attempts, 'sentAt', now)
      redis.call('ZADD', due, now + gaps[attempts], id)
      table.insert(resend, {id, m[1], m[2], attempts})
    else
      redis.call('HSET', failed, id, cjson.encode({topic = m[1], type = m[4], attempts = attempts, failedAt = now, payload = m[2]}))
      redis.call('ZADD', failedOrder, now, id)
      retire(id)
      table.insert(gaveup, {id, m[4], attempts})
    end
  end
end
if #resend > 0 then redis.call('HINCRBY', stats, 'retransmits', #resend) end
if #gaveup > 0 then
  redis.call('HINCRBY', stats, 'giveups', #gaveup)
  boundFailed(tonumber(ARGV[7]))
end
local nxt = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
return {resend, gaveup, nxt[2] or ''}
`,
  // The link dropped: in-flight messages return to the buffer with their attempt
  // count and the time left of their wait (the clock runs only while connected).
  // ARGV: 4 now, 5 limit
  coinerexOutSuspend: `${header}
local now = tonumber(ARGV[4])
local items = redis.call('ZRANGE', due, 0, -1, 'WITHSCORES')
for i = 1, #items, 2 do
  local id = items[i]
  local mk = msgp .. id
  local o = redis.call('HGET', mk, 'order')
  if o then
    redis.call('HSET', mk, 'remaining', math.max(0, tonumber(items[i + 1]) - now))
    redis.call('ZADD', buffer, o, id)
  end
end
redis.call('DEL', due)
local dropped = overflow(tonumber(ARGV[5]))
return {#items / 2, dropped, redis.call('ZCARD', buffer)}
`,
  // ARGV: 4… ACKed ids
  coinerexOutSettle: `${header}
return settle(4)
`,
} as const;

type ScriptName = keyof typeof scripts;
type Reply = unknown;

export interface Outgoing {
  id: string;
  topic: string;
  payload: string;
}

/** `settled`: the outcome of each id of `AddInput.settle`, in order. */
export type AddResult = { settled: Array<SettleResult | null> } & (
  | { kind: 'duplicate' }
  | { kind: 'sent' }
  | { kind: 'buffered'; buffered: number; superseded: string[]; dropped: Array<{ id: string; type: string }> }
);

export interface TakeResult {
  items: Array<Outgoing & { firstSend: boolean; dueAt: number }>;
  buffered: number;
  /** Epoch ms of the earliest in-flight action after the take, or null when nothing is in flight. */
  nextDueAt: number | null;
}

export interface DueResult {
  resent: Array<Outgoing & { attempts: number }>;
  gaveUp: Array<{ id: string; type: string; attempts: number }>;
  /** Epoch ms of the next in-flight action, or null when nothing is in flight. */
  nextDueAt: number | null;
}

export interface SuspendResult {
  suspended: number;
  dropped: Array<{ id: string; type: string }>;
  buffered: number;
}

export interface SettleResult {
  sentAt: number | null;
  attempts: number;
  type: string;
}

export interface AddInput extends Outgoing {
  type: string;
  /** A post-transaction accounting snapshot: a newer one replaces it while unsent (docs/protocol.md#offline-buffer). */
  supersedable: boolean;
  now: number;
  /**
   * Already published by the caller (link up, buffer empty): recorded in flight, first send at `now`.
   * Otherwise it goes into the offline buffer and is sent by a later `take`.
   */
  sent: boolean;
  /** ACKed ids settled in the same call, before the message is recorded (saves a round trip and an fsync). */
  settle?: readonly string[];
  /** A replay (`transactions` query) revives a settled or given-up id; one still unsettled stays a duplicate. */
  replay?: boolean;
}

const toDropped = (raw: unknown): Array<{ id: string; type: string }> =>
  (raw as Array<[string, string]>).map(([id, type]) => ({ id, type }));

const toSettled = (raw: unknown): Array<SettleResult | null> =>
  ((raw ?? []) as Array<[number, string, string, string]>).map(([found, sentAt, attempts, type]) =>
    Number(found) === 1 ? { sentAt: sentAt === '' ? null : Number(sentAt), attempts: Number(attempts), type } : null,
  );

const toNext = (raw: unknown): number | null => (raw === '' || raw === null || raw === undefined ? null : Number(raw));

/**
 * One Redis connection, one Lua call per transition (ACK settlements ride
 * along with a new message's call when one is made). `gapsMs` is the
 * retransmission schedule: the wait after send 1, 2, …; its length is the
 * number of sends (docs/protocol.md#4-ack-and-retransmission, docs/pitfalls.md#retransmission-spacing).
 */
export class DeliveryStore {
  private readonly keyList: string[];
  private readonly common: string[];
  private readonly gapsJson: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly gapsMs: readonly number[],
    readonly offlineLimit: number,
    /** Given-up messages kept for inspection (COINEREX_OUT_FAILED_LIMIT). */
    readonly failedLimit = 1000,
  ) {
    if (gapsMs.length === 0) throw new Error('retry schedule must not be empty');
    for (const [name, lua] of Object.entries(scripts)) {
      if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 7, lua });
    }
    this.keyList = [keys.outOrder, keys.outDue, keys.outBuffer, keys.outStats, keys.outFailed, keys.outCounter, keys.outFailedOrder];
    this.common = [keys.outMessage(''), keys.outDone(''), String(TOMBSTONE_SECONDS)];
    this.gapsJson = JSON.stringify(gapsMs);
  }

  private call(name: ScriptName, ...args: Array<string | number>): Promise<Reply> {
    const fn = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<Reply>>)[name]!;
    return fn.call(this.redis, ...this.keyList, ...this.common, ...args.map(String));
  }

  /** Records a new ACK-required message, in flight (`sent`) or buffered; settles `m.settle` first. */
  async add(m: AddInput): Promise<AddResult> {
    const r = (await this.call(
      'coinerexOutAdd', m.id, m.topic, m.payload, m.type, m.supersedable ? '1' : '0', m.now, m.sent ? '1' : '0', this.gapsMs[0]!, this.offlineLimit, m.replay ? '1' : '0', ...(m.settle ?? []),
    )) as [string, unknown, number?, string[]?, unknown?];
    const settled = toSettled(r[1]);
    if (r[0] === 'duplicate') return { kind: 'duplicate', settled };
    if (r[0] === 'sent') return { kind: 'sent', settled };
    return { kind: 'buffered', settled, buffered: Number(r[2]), superseded: r[3] ?? [], dropped: toDropped(r[4] ?? []) };
  }

  /** Takes up to `max` of the oldest buffered messages and puts them in flight. */
  async take(now: number, max: number): Promise<TakeResult> {
    const [items, buffered, next] = (await this.call('coinerexOutTake', now, this.gapsJson, max)) as [Array<[string, string, string, number, number]>, number, string];
    return {
      items: items.map(([id, topic, payload, first, dueAt]) => ({ id, topic, payload, firstSend: Number(first) === 1, dueAt: Number(dueAt) })),
      buffered: Number(buffered),
      nextDueAt: toNext(next),
    };
  }

  async due(now: number, max: number): Promise<DueResult> {
    const [resent, gaveUp, next] = (await this.call('coinerexOutDue', now, this.gapsJson, max, this.failedLimit)) as [
      Array<[string, string, string, number]>,
      Array<[string, string, number]>,
      string,
    ];
    return {
      resent: resent.map(([id, topic, payload, attempts]) => ({ id, topic, payload, attempts: Number(attempts) })),
      gaveUp: gaveUp.map(([id, type, attempts]) => ({ id, type, attempts: Number(attempts) })),
      nextDueAt: toNext(next),
    };
  }

  async suspend(now: number): Promise<SuspendResult> {
    const [suspended, dropped, buffered] = (await this.call('coinerexOutSuspend', now, this.offlineLimit)) as [number, unknown, number];
    return { suspended: Number(suspended), dropped: toDropped(dropped), buffered: Number(buffered) };
  }

  /** Settles unsettled messages in one call; per id, null when it is unknown or already settled (a repeat in `ids` included). */
  async settleMany(ids: readonly string[]): Promise<Array<SettleResult | null>> {
    if (ids.length === 0) return [];
    return toSettled(await this.call('coinerexOutSettle', ...ids));
  }

  /** A heartbeat, status or command result not sent because the link was down (never buffered, docs/protocol.md#offline-buffer). */
  async countSkipped(kind: string): Promise<void> {
    await this.redis.hincrby(this.keys.outStats, `skipped_${kind}`, 1);
  }
}
