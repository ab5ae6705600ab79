/**
 * The ccTalk driver's durable state: the devices' event counters, the
 * hopper's payout run and the active faults (one Redis hash), the payout
 * records, and the events they produce. One Lua script commits a change and
 * appends its events to the pending list (pending-events.ts) in ONE atomic
 * step, guarded by a version: the counter that says "read up to here" and
 * the events read never exist one without the other, so an event becomes an
 * hw-event exactly once across crashes and restarts (docs/architecture.md
 * invariant 1). A re-sent script (ioredis after a reconnect, docs/pitfalls.md)
 * finds the version moved and writes nothing.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { HwEvent } from '../../../queue/jobs.js';
import type { RedisKeys } from '../../../shared/keys.js';
import { payoutEndReasons } from '../../../shared/physical-truth.js';
import { PendingEvents } from '../pending-events.js';

const PAYOUTS_KEPT = 500;

export const payoutRecordSchema = z.object({
  requested: z.number().int().nonnegative(),
  paid: z.number().int().nonnegative(),
  done: z.boolean(),
  reason: z.enum(payoutEndReasons).optional(),
  acceptedAt: z.number().int().nonnegative(),
});
export type PayoutRecord = z.infer<typeof payoutRecordSchema>;

/** One 167 dispense of the current payout (docs/cctalk.md "Payouts"). */
export const segmentSchema = z.object({
  coins: z.number().int().positive().max(255),
  /** 166 before the dispense was sent: event counter, last payout's paid and unpaid. */
  counterBefore: z.number().int().min(0).max(255),
  paidBefore: z.number().int().min(0).max(255),
  unpaidBefore: z.number().int().min(0).max(255),
  /** The hopper ACKed the 167: it took the dispense. */
  acked: z.boolean(),
});
export type Segment = z.infer<typeof segmentSchema>;

export const runSchema = z.object({
  payoutId: z.string(),
  requested: z.number().int().positive(),
  /** Coins of settled segments. */
  paid: z.number().int().nonnegative(),
  seg: segmentSchema.optional(),
});
export type HopperRun = z.infer<typeof runSchema>;

export interface CctalkState {
  /** Event counter last read per device role; undefined: never read. */
  counters: Partial<Record<'coin' | 'bill', number>>;
  run?: HopperRun;
  /** Payout ids accepted and waiting for the hopper, oldest first. */
  queue: string[];
  /** Active fault code -> why it was raised (what clears it). */
  faults: Record<string, string>;
  acceptorsEnabled: boolean;
  /** NTD values the business app inhibited (set_acceptors): refused at the slot, handed back from escrow. */
  inhibit: number[];
}

/** A change: the new state (whole) and payout records to write; committed with its events. */
export interface Change {
  state?: CctalkState;
  payouts?: Record<string, PayoutRecord>;
  events?: HwEvent[];
}

// KEYS: state hash, pending list, payouts hash, payout order list.
// ARGV: expected version, state JSON or '', payouts JSON, events...
const commitLua = `
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 'conflict' end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[2]) end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(v) + 1))
for id, rec in pairs(cjson.decode(ARGV[3])) do
  if redis.call('HEXISTS', KEYS[3], id) == 0 then
    redis.call('LPUSH', KEYS[4], id)
    while redis.call('LLEN', KEYS[4]) > ${PAYOUTS_KEPT} do redis.call('HDEL', KEYS[3], redis.call('RPOP', KEYS[4])) end
  end
  redis.call('HSET', KEYS[3], id, rec)
end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
return 'applied'
`;

const COMMAND = 'coinerexCctalkCommit';
type WithCommit = Redis & { [COMMAND](...args: string[]): Promise<'applied' | 'conflict'> };

const stateSchema = z.object({
  counters: z.object({ coin: z.number().int().min(0).max(255).optional(), bill: z.number().int().min(0).max(255).optional() }),
  run: runSchema.optional(),
  queue: z.array(z.string()),
  faults: z.record(z.string(), z.string()),
  acceptorsEnabled: z.boolean(),
  // Absent in a state written before per-denomination inhibits existed.
  inhibit: z.array(z.number().int().nonnegative()).default([]),
});

export const initialState = (): CctalkState => ({ counters: {}, queue: [], faults: {}, acceptorsEnabled: true, inhibit: [] });

export class StateConflict extends Error {
  constructor() {
    super('ccTalk state changed under this step (a re-sent commit, or a second driver on the same device id)');
  }
}

export class CctalkStore {
  private readonly redis: WithCommit;
  private version = '0';
  private current: CctalkState = initialState();
  /** A write's outcome is unknown: read again before the next commit. */
  private stale = true;

  constructor(
    redis: Redis,
    private readonly keys: Pick<RedisKeys, 'cctalkState' | 'cctalkPayouts' | 'cctalkPayoutOrder' | 'hwPending'>,
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 4, lua: commitLua });
    this.redis = redis as WithCommit;
  }

  /** The state as last read or committed (a copy to change). */
  get state(): CctalkState {
    return structuredClone(this.current);
  }

  async load(): Promise<CctalkState> {
    if (!this.stale) return this.state;
    const [v, raw] = await this.redis.hmget(this.keys.cctalkState, 'v', 'state');
    this.version = v ?? '0';
    this.current = raw ? stateSchema.parse(JSON.parse(raw)) : initialState();
    this.stale = false;
    return this.state;
  }

  /** Commits atomically; rejects (and reads again next time) on a conflict or an unknown outcome. */
  async commit(change: Change): Promise<void> {
    if (!change.state && !change.payouts && !change.events?.length) return;
    await this.load();
    const payouts: Record<string, string> = {};
    for (const [id, rec] of Object.entries(change.payouts ?? {})) payouts[id] = JSON.stringify(rec);
    let outcome: 'applied' | 'conflict';
    try {
      outcome = await this.redis[COMMAND](
        this.keys.cctalkState,
        this.keys.hwPending,
        this.keys.cctalkPayouts,
        this.keys.cctalkPayoutOrder,
        this.version,
        change.state ? JSON.stringify(change.state) : '',
        JSON.stringify(payouts),
        ...(change.events ?? []).map(PendingEvents.encode),
      );
    } catch (err) {
      this.stale = true;
      throw err;
    }
    if (outcome === 'conflict') {
      this.stale = true;
      throw new StateConflict();
    }
    this.version = String(Number(this.version) + 1);
    if (change.state) this.current = structuredClone(change.state);
  }

  async payout(payoutId: string): Promise<PayoutRecord | undefined> {
    const raw = await this.redis.hget(this.keys.cctalkPayouts, payoutId);
    return raw ? payoutRecordSchema.parse(JSON.parse(raw)) : undefined;
  }

  /** The newest `limit` payout records with their ids. */
  async recentPayouts(limit: number): Promise<Array<{ payoutId: string } & PayoutRecord>> {
    const ids = await this.redis.lrange(this.keys.cctalkPayoutOrder, 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.cctalkPayouts, ...ids);
    return ids.flatMap((payoutId, i) => (raws[i] ? [{ payoutId, ...payoutRecordSchema.parse(JSON.parse(raws[i]!)) }] : []));
  }
}
