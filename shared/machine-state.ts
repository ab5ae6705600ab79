/**
 * The machine's state as the business app keeps it in Redis, and a reader
 * for the other apps (heartbeat, status, CLI, dashboard). Only the business
 * app writes these keys; the layout is defined here so readers agree.
 *
 *  - `machine` hash: status (0|1|3|4), locked (0|1), lockUntil (ms|''), doorOpen (0|1),
 *    inventory (coins the books believe are in the hopper; absent until the hardware
 *    first reported its level), acceptorsEnabled (0|1), lastTransactionAt (ms),
 *    lastMaintenanceAt (ms: the door last closed), serviceStatus (JSON).
 *  - `counters` hash: total_bills, total_coins (NTD taken in), total_dispensed,
 *    remote_dispensed, bonus_coins (coins paid out), debt_coins (coins owed), balance (NTD),
 *    credit_ntd (NTD taken in but below one 10 NTD coin, carried to the next insert),
 *    unmapped_ntd (NTD of cash events the agent could not map: in the cash box, never paid out).
 *  - `machine` also: acceptorsInhibit (denominations the hardware confirmed it refuses, comma list),
 *    inhibitReasons (JSON amount -> `config` | `coins`: what the agent wants refused and why).
 *  - `codes` hash: `error:<code>` / `alarm:<code>` -> raised-at ms, for active codes.
 *  - `lock` hash: reason, operatorId, since (ms), until (ms|''), message — while locked.
 *  - `daily:<YYYYMMDD>` hash (local day, kept 40 days): transactions (exchanges and
 *    remote dispenses completed), exchanges, coins_dispensed (all causes), remote_dispensed,
 *    errors (error codes raised), bills, coins (NTD taken in), bonus_coins, debt_coins (new debt).
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { machineStatus, type MachineStatus } from './codes.js';

export type ServiceState = 'operational' | 'degraded' | 'offline' | 'fault';
export interface ServiceStatus {
  coin_acceptor: ServiceState;
  bill_acceptor: ServiceState;
  dispenser: ServiceState;
  display: ServiceState;
}

export const counterFields = ['total_bills', 'total_coins', 'total_dispensed', 'remote_dispensed', 'bonus_coins', 'debt_coins', 'balance', 'credit_ntd', 'unmapped_ntd'] as const;
export type Counters = Record<(typeof counterFields)[number], number>;

export const dailyFields = ['transactions', 'exchanges', 'coins_dispensed', 'remote_dispensed', 'errors', 'bills', 'coins', 'bonus_coins', 'debt_coins'] as const;
export type Daily = Record<(typeof dailyFields)[number], number>;

export interface MachineSnapshot {
  status: MachineStatus;
  locked: boolean;
  lockUntil: number | null;
  doorOpen: boolean;
  /** 0 while unknown: see inventoryKnown. */
  inventory: number;
  /** Whether the hardware ever reported a level (a ccTalk hopper never does: the books keep no count). */
  inventoryKnown: boolean;
  acceptorsEnabled: boolean;
  /** Denominations the agent has the acceptors refuse, and why (`config`: not accepted; `coins`: the hopper cannot cover it). */
  inhibited: Inhibited[];
  lastTransactionAt: number | null;
  lastMaintenanceAt: number | null;
  serviceStatus: ServiceStatus;
  counters: Counters;
  activeErrors: number[];
  activeAlarms: number[];
  today: Daily;
}

export interface Inhibited {
  amount: number;
  reason: 'config' | 'coins';
}

function parseInhibited(v: string | undefined): Inhibited[] {
  if (!v) return [];
  try {
    return Object.entries(JSON.parse(v) as Record<string, Inhibited['reason']>)
      .map(([amount, reason]) => ({ amount: Number(amount), reason }))
      .sort((a, b) => a.amount - b.amount);
  } catch {
    return [];
  }
}

const allOperational: ServiceStatus = { coin_acceptor: 'operational', bill_acceptor: 'operational', dispenser: 'operational', display: 'operational' };

const num = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));
const optNum = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));

export async function readMachineSnapshot(redis: Redis, keys: RedisKeys, day: string): Promise<MachineSnapshot> {
  const [m, c, codes, d] = await Promise.all([
    redis.hgetall(keys.machine),
    redis.hgetall(keys.counters),
    redis.hgetall(keys.activeCodes),
    redis.hgetall(keys.daily(day)),
  ]);
  return machineSnapshotOf({ machine: m, counters: c, codes, daily: d });
}

/** The raw hashes a snapshot is made of. */
export interface MachineHashes {
  machine: Record<string, string>;
  counters: Record<string, string>;
  codes: Record<string, string>;
  daily: Record<string, string>;
}

/** A snapshot from hashes already read (one pipeline for several purposes). */
export function machineSnapshotOf({ machine: m, counters: c, codes, daily: d }: MachineHashes): MachineSnapshot {
  let serviceStatus = allOperational;
  try {
    if (m.serviceStatus) serviceStatus = { ...allOperational, ...JSON.parse(m.serviceStatus) };
  } catch {
    // A malformed value is reported as operational rather than crash a reader.
  }
  const counters = Object.fromEntries(counterFields.map((f) => [f, num(c[f])])) as Counters;
  const today = Object.fromEntries(dailyFields.map((f) => [f, num(d[f])])) as Daily;
  const codeList = (kind: string) =>
    Object.keys(codes)
      .filter((k) => k.startsWith(`${kind}:`))
      .map((k) => Number(k.slice(kind.length + 1)))
      .sort((a, b) => a - b);
  const status = m.status === undefined ? machineStatus.standby : (Number(m.status) as MachineStatus);
  return {
    status,
    locked: m.locked === '1',
    lockUntil: optNum(m.lockUntil),
    doorOpen: m.doorOpen === '1',
    inventory: num(m.inventory),
    inventoryKnown: m.inventory !== undefined,
    acceptorsEnabled: m.acceptorsEnabled !== '0',
    inhibited: parseInhibited(m.inhibitReasons),
    lastTransactionAt: optNum(m.lastTransactionAt),
    lastMaintenanceAt: optNum(m.lastMaintenanceAt),
    serviceStatus,
    counters,
    activeErrors: codeList('error'),
    activeAlarms: codeList('alarm'),
    today,
  };
}
