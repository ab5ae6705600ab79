/**
 * The simulator's physical truth in Redis (layout: shared/physical-truth.ts).
 * Every change is computed in TypeScript from a snapshot and committed by one
 * Lua script that checks the snapshot's version, writes the truth and the
 * payout, and appends the change's events to the pending list: the fact and
 * its event are recorded in ONE atomic step, so a crash can never keep one
 * without the other (docs/architecture.md#invariant-1).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { HwEvent } from '../../../queue/jobs.js';
import type { RedisKeys } from '../../../shared/keys.js';
import {
  parsePhysicalPayout,
  parsePhysicalTruth,
  payoutFields,
  truthFields,
  type PhysicalPayout,
  type PhysicalTruth,
} from '../../../shared/physical-truth.js';
import { PendingEvents } from '../pending-events.js';

type Value = string | number;

export interface PayoutWrite {
  payoutId: string;
  fields: Partial<Record<keyof typeof payoutFields, Value>>;
  /** Set on acceptance: lists the payout among the recent ones, scored by this ms. */
  acceptedAt?: number;
  /** true: add to the open payouts; false: remove (ended). */
  open?: boolean;
}

/** What one step changes. Everything in it commits atomically, or nothing does. */
export interface Change {
  truth?: Partial<Record<keyof typeof truthFields, Value>>;
  payout?: PayoutWrite;
  events?: HwEvent[];
}

export interface Snapshot {
  version: string;
  truth: PhysicalTruth;
  payouts: Map<string, PhysicalPayout | null>;
}

/** A step: look at the snapshot, say what changes (nothing: no write) and what to answer. */
export type Step<R> = (s: Snapshot) => { change?: Change; result: R };

/** An ended payout's record is kept this long, so a late repeat of its command is still recognised. */
const PAYOUT_TTL_SECONDS = 30 * 86_400;
const RECENT_PAYOUTS_KEPT = 200;
const MAX_ATTEMPTS = 5;
/** Payout hashes remembered in memory (the open ones and the latest ended ones). */
const PAYOUTS_REMEMBERED = 64;

// KEYS: truth, pending, recent payouts zset, open payouts set, payout hash.
// ARGV: expected version, op id, truth fields JSON, payout JSON or '', events...
// `already`: ioredis re-sends an unanswered command after a reconnect
// (docs/pitfalls.md#3-redis-durability-and-ioredis); the op id recognises a change that was in fact applied.
// `p.new`: the step assumed the payout unknown without reading it; if it
// exists after all, nothing is written and the step is computed again.
const commitLua = `
local v = redis.call('HGET', KEYS[1], '${truthFields.version}') or '0'
if v ~= ARGV[1] then
  if redis.call('HGET', KEYS[1], '${truthFields.lastOp}') == ARGV[2] then return 'already' end
  return 'conflict'
end
local p = nil
if ARGV[4] ~= '' then
  p = cjson.decode(ARGV[4])
  if p.new and redis.call('EXISTS', KEYS[5]) == 1 then return 'conflict' end
end
for k, val in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[1], k, val) end
redis.call('HSET', KEYS[1], '${truthFields.version}', tostring(tonumber(v) + 1), '${truthFields.lastOp}', ARGV[2])
if p then
  for k, val in pairs(p.fields) do redis.call('HSET', KEYS[5], k, val) end
  if p.acceptedAt then
    redis.call('ZADD', KEYS[3], p.acceptedAt, p.id)
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -${RECENT_PAYOUTS_KEPT + 1})
  end
  if p.open == true then redis.call('SADD', KEYS[4], p.id) end
  if p.open == false then
    redis.call('SREM', KEYS[4], p.id)
    if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('EXPIRE', KEYS[5], ${PAYOUT_TTL_SECONDS}) end
  end
end
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
return 'applied'
`;

const COMMAND = 'coinerexSimCommit';
type WithCommit = Redis & { [COMMAND](...args: string[]): Promise<'applied' | 'already' | 'conflict'> };

function toFields<K extends string>(names: Record<K, string>, values: Partial<Record<K, Value>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {}) as [K, Value][]) out[names[k]] = String(v);
  return out;
}

/**
 * This store is the truth's only writer, so it remembers what it last read or
 * wrote and computes the next step from that instead of reading again. The
 * commit's version check still guards it: a change made by anyone else (or a
 * write whose outcome is unknown) means a conflict, then a fresh read.
 */
export class TruthStore {
  private readonly redis: WithCommit;
  /** The truth hash as last read or committed; undefined: read it. */
  private truthHash: Record<string, string> | undefined;
  /** Payout hashes as last read or committed, oldest first. */
  private readonly payoutHashes = new Map<string, Record<string, string>>();

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 5, lua: commitLua });
    this.redis = redis as WithCommit;
  }

  async read(payoutIds: readonly string[] = []): Promise<Snapshot> {
    const multi = this.redis.multi().hgetall(this.keys.simTruth);
    for (const id of payoutIds) multi.hgetall(this.keys.simPayout(id));
    const replies = (await multi.exec()) ?? [];
    const hashes = replies.map(([err, h]) => {
      if (err) throw err;
      return h as Record<string, string>;
    });
    this.truthHash = hashes[0] ?? {};
    payoutIds.forEach((id, i) => this.rememberPayout(id, hashes[i + 1] ?? {}));
    return this.snapshot(payoutIds);
  }

  /**
   * Runs one step atomically: snapshot, compute, commit if nothing changed in
   * between, else recompute on a fresh snapshot.
   */
  async apply<R>(payoutIds: readonly string[], step: Step<R>): Promise<R> {
    const opId = randomUUID();
    let fresh = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const remembered = fresh ? undefined : this.remembered(payoutIds);
      const { snapshot, assumedNew } = remembered ?? { snapshot: await this.read(payoutIds), assumedNew: undefined };
      fresh = true;
      const { change, result } = step(snapshot);
      // An assumption about a payout not read is checked by the commit only when the change creates that payout.
      if (assumedNew !== undefined && change?.payout?.payoutId !== assumedNew) continue;
      if (!change) return result;
      let outcome: 'applied' | 'already' | 'conflict';
      try {
        outcome = await this.commit(snapshot.version, opId, change, assumedNew !== undefined);
      } catch (err) {
        this.forget();
        throw err;
      }
      if (outcome === 'conflict') {
        this.forget();
        continue;
      }
      this.remember(snapshot.version, opId, change);
      return result;
    }
    throw new Error('simulator truth kept changing under this step (another simulator on the same device?)');
  }

  openPayouts(): Promise<string[]> {
    return this.redis.smembers(this.keys.simOpenPayouts);
  }

  recentPayoutIds(limit: number): Promise<string[]> {
    return this.redis.zrevrange(this.keys.simPayouts, 0, limit - 1);
  }

  /**
   * Commits `change` if the truth is still at `version` (and, with `payoutNew`,
   * its payout does not exist yet). `already`: this `opId` was the last change
   * applied (a re-sent command), nothing done.
   */
  commit(version: string, opId: string, change: Change, payoutNew = false): Promise<'applied' | 'already' | 'conflict'> {
    const p = change.payout;
    const payoutArg = p
      ? JSON.stringify({ id: p.payoutId, fields: toFields(payoutFields, p.fields), acceptedAt: p.acceptedAt, open: p.open, new: payoutNew || undefined })
      : '';
    return this.redis[COMMAND](
      this.keys.simTruth,
      this.keys.hwPending,
      this.keys.simPayouts,
      this.keys.simOpenPayouts,
      p ? this.keys.simPayout(p.payoutId) : this.keys.simTruth,
      version,
      opId,
      JSON.stringify(toFields(truthFields, change.truth)),
      payoutArg,
      ...(change.events ?? []).map(PendingEvents.encode),
    );
  }

  private snapshot(payoutIds: readonly string[]): Snapshot {
    const h = this.truthHash ?? {};
    const payouts = new Map(payoutIds.map((id) => [id, parsePhysicalPayout(id, this.payoutHashes.get(id) ?? {})] as const));
    return { version: h[truthFields.version] ?? '0', truth: parsePhysicalTruth(h), payouts };
  }

  /**
   * A snapshot from memory, or undefined when a read is needed. One payout
   * not in memory may be assumed unknown (a new payout command): the commit
   * checks that it does not exist.
   */
  private remembered(payoutIds: readonly string[]): { snapshot: Snapshot; assumedNew: string | undefined } | undefined {
    if (!this.truthHash) return undefined;
    const missing = payoutIds.filter((id) => !this.payoutHashes.has(id));
    if (missing.length > 1) return undefined;
    return { snapshot: this.snapshot(payoutIds), assumedNew: missing[0] };
  }

  private remember(version: string, opId: string, change: Change): void {
    this.truthHash = {
      ...this.truthHash,
      ...toFields(truthFields, change.truth),
      [truthFields.version]: String(Number(version) + 1),
      [truthFields.lastOp]: opId,
    };
    const p = change.payout;
    if (p) this.rememberPayout(p.payoutId, { ...this.payoutHashes.get(p.payoutId), ...toFields(payoutFields, p.fields) });
  }

  private rememberPayout(id: string, hash: Record<string, string>): void {
    this.payoutHashes.delete(id);
    this.payoutHashes.set(id, hash);
    for (const old of this.payoutHashes.keys()) {
      if (this.payoutHashes.size <= PAYOUTS_REMEMBERED) break;
      this.payoutHashes.delete(old);
    }
  }

  private forget(): void {
    this.truthHash = undefined;
    this.payoutHashes.clear();
  }
}
