/**
 * The simulator's physical truth: what really happened in the (simulated)
 * machine, kept by the hardware app in Redis, independent of the business
 * app's books. Tests, the chaos run and the CLI compare the books against it
 * (docs/architecture.md#invariant-4). Only the simulator writes these keys; the
 * layout is defined here so writer and readers agree.
 *
 *  - `sim:truth` hash (`truthFields`): hopper inventory, coins that left the
 *    hopper, refills, cash box counts by denomination, door, acceptors,
 *    display, active faults, armed jam, plus the writer's `version`/`last_op`.
 *  - `sim:payout:<payoutId>` hash (`payoutFields`): requested, paid, done (0|1),
 *    reason, accepted_at, ended_at.
 *  - `sim:payouts` zset: recent payout ids by acceptance time.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

/** Hash fields of `keys.simTruth`. */
export const truthFields = {
  initializedAt: 'initialized_at',
  /** Coins in the hopper now. */
  inventory: 'inventory',
  /** Coins in the hopper when the simulator first started. */
  initialInventory: 'initial_inventory',
  /** Coins added by refills since. */
  refilled: 'refilled',
  /** Coins that physically left the hopper (all payouts). */
  dispensed: 'dispensed',
  bills100: 'bills_100',
  bills200: 'bills_200',
  bills500: 'bills_500',
  bills1000: 'bills_1000',
  bills2000: 'bills_2000',
  coins1: 'coins_1',
  coins5: 'coins_5',
  coins10: 'coins_10',
  coins50: 'coins_50',
  doorOpen: 'door_open',
  acceptorsEnabled: 'acceptors_enabled',
  /** Denominations the acceptors refuse, comma-separated, ascending. */
  inhibit: 'inhibit',
  display: 'display',
  /** Active fault codes, comma-separated, ascending. */
  faults: 'faults',
  /** 1 while the next payout is set to jam. */
  jamArmed: 'jam_armed',
  /** `paid` or `none` while the board is set to lose power during the next payout (after all its coins, or before any). */
  powerCut: 'power_cut',
  /** 1 while the board does not know its coin count (lost with its power): status reports say null until a refill. */
  countLost: 'count_lost',
  /** Optimistic-concurrency version and id of the last applied change (the writer's). */
  version: 'version',
  lastOp: 'last_op',
} as const;

/** Hash fields of `keys.simPayout(id)`. */
export const payoutFields = {
  requested: 'requested',
  paid: 'paid',
  done: 'done',
  reason: 'reason',
  acceptedAt: 'accepted_at',
  endedAt: 'ended_at',
  /** 1: the board lost this payout with its power; it can report nothing about it. */
  lost: 'lost',
} as const;

/**
 * Why a payout ended, as the hardware reports it; the order is the board link's wire encoding (1-based).
 * `unknown`: cut by a power loss, `paid` exact, the rest may still be paid. `in_doubt`: the hardware
 * cannot tell whether more than `paid` left; the rest waits for a person (51), never paid again by itself.
 */
export const payoutEndReasons = ['complete', 'hopper_empty', 'jam', 'fault', 'unknown', 'in_doubt'] as const;
export type PayoutEndReason = (typeof payoutEndReasons)[number];

export interface PhysicalTruth {
  /** False until the simulator has started once on this Redis. */
  initialized: boolean;
  inventory: number;
  initialInventory: number;
  refilled: number;
  dispensed: number;
  /** Bills in the cash box by denomination (count). */
  bills: { 100: number; 200: number; 500: number; 1000: number; 2000: number };
  /** Coins in the cash box by denomination (count). */
  coins: { 1: number; 5: number; 10: number; 50: number };
  /** 50 NTD coins in the cash box (count). */
  coins50: number;
  /** NTD of the bills in the cash box (compare with `counters.total_bills`). */
  billsNtd: number;
  /** NTD of the coins in the cash box (compare with `counters.total_coins`). */
  coinsNtd: number;
  doorOpen: boolean;
  acceptorsEnabled: boolean;
  /** Denominations the acceptors refuse even when enabled. */
  inhibit: number[];
  display: string;
  activeFaults: number[];
  jamArmed: boolean;
  /** Whether the next payout is set to lose power after all its coins (`paid`) or before any (`none`). */
  powerCut: 'paid' | 'none' | null;
  countLost: boolean;
}

export interface PhysicalPayout {
  payoutId: string;
  requested: number;
  paid: number;
  done: boolean;
  /** Why it ended; null while running. */
  reason: PayoutEndReason | null;
  acceptedAt: number;
  endedAt: number | null;
  /** Lost with the board's power: the board cannot report it. */
  lost: boolean;
}

const int = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));

export function parseFaults(v: string | undefined): number[] {
  return v ? v.split(',').filter((s) => s !== '').map(Number) : [];
}

export function formatFaults(codes: readonly number[]): string {
  return [...new Set(codes)].sort((a, b) => a - b).join(',');
}

/** Reads a `sim:truth` hash as returned by HGETALL. */
export function parsePhysicalTruth(h: Record<string, string>): PhysicalTruth {
  const bills = {
    100: int(h[truthFields.bills100]),
    200: int(h[truthFields.bills200]),
    500: int(h[truthFields.bills500]),
    1000: int(h[truthFields.bills1000]),
    2000: int(h[truthFields.bills2000]),
  };
  const coins = { 1: int(h[truthFields.coins1]), 5: int(h[truthFields.coins5]), 10: int(h[truthFields.coins10]), 50: int(h[truthFields.coins50]) };
  const ntd = (counts: Record<number, number>) => Object.entries(counts).reduce((sum, [value, n]) => sum + Number(value) * n, 0);
  return {
    initialized: h[truthFields.initializedAt] !== undefined,
    inventory: int(h[truthFields.inventory]),
    initialInventory: int(h[truthFields.initialInventory]),
    refilled: int(h[truthFields.refilled]),
    dispensed: int(h[truthFields.dispensed]),
    bills,
    coins,
    coins50: coins[50],
    billsNtd: ntd(bills),
    coinsNtd: ntd(coins),
    doorOpen: h[truthFields.doorOpen] === '1',
    // A machine starts with its acceptors on.
    acceptorsEnabled: h[truthFields.acceptorsEnabled] !== '0',
    inhibit: parseFaults(h[truthFields.inhibit]),
    display: h[truthFields.display] ?? '',
    activeFaults: parseFaults(h[truthFields.faults]),
    jamArmed: h[truthFields.jamArmed] === '1',
    powerCut: h[truthFields.powerCut] === 'paid' ? 'paid' : h[truthFields.powerCut] === 'none' ? 'none' : null,
    countLost: h[truthFields.countLost] === '1',
  };
}

/** Reads a `sim:payout:<id>` hash; null when it does not exist. */
export function parsePhysicalPayout(payoutId: string, h: Record<string, string>): PhysicalPayout | null {
  if (h[payoutFields.requested] === undefined) return null;
  return {
    payoutId,
    requested: int(h[payoutFields.requested]),
    paid: int(h[payoutFields.paid]),
    done: h[payoutFields.done] === '1',
    reason: (h[payoutFields.reason] || null) as PayoutEndReason | null,
    acceptedAt: int(h[payoutFields.acceptedAt]),
    endedAt: h[payoutFields.endedAt] ? int(h[payoutFields.endedAt]) : null,
    lost: h[payoutFields.lost] === '1',
  };
}

export async function readPhysicalTruth(redis: Redis, keys: RedisKeys): Promise<PhysicalTruth> {
  return parsePhysicalTruth(await redis.hgetall(keys.simTruth));
}

export async function readPhysicalPayout(redis: Redis, keys: RedisKeys, payoutId: string): Promise<PhysicalPayout | null> {
  return parsePhysicalPayout(payoutId, await redis.hgetall(keys.simPayout(payoutId)));
}

/** The latest `limit` payouts, newest first (expired ones are skipped). */
export async function readRecentPayouts(redis: Redis, keys: RedisKeys, limit = 20): Promise<PhysicalPayout[]> {
  const ids = await redis.zrevrange(keys.simPayouts, 0, limit - 1);
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(keys.simPayout(id));
  const replies = (await pipe.exec()) ?? [];
  const out: PhysicalPayout[] = [];
  ids.forEach((id, i) => {
    const p = parsePhysicalPayout(id, (replies[i]?.[1] ?? {}) as Record<string, string>);
    if (p) out.push(p);
  });
  return out;
}
