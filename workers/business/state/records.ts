/**
 * The engine's Redis records (layout in shared/keys.ts): payout intents,
 * open transactions and remote-dispense records, read into typed objects.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../../shared/keys.js';

export type PayoutPurpose = 'exchange' | 'remote' | 'debt';
export type IntentState = 'queued' | 'sent' | 'done';

/** One payout attempt in the lane. The hardware never pays the same payoutId twice. */
export interface PayoutIntent {
  payoutId: string;
  purpose: PayoutPurpose;
  /** The transaction id (exchange, remote); '' for a debt payout. */
  ref: string;
  coins: number;
  state: IntentState;
  createdAt: number;
  sentAt: number;
  paid: number;
  /** How often the same payout id was (re)issued. */
  attempt: number;
}

export type TransactionType = 'exchange' | 'remote_dispense';

/** A transaction from its credit (or remote command) until its payout settles. */
export interface OpenTransaction {
  txnId: string;
  type: TransactionType;
  /** NTD inserted: bills + coins (0 for remote). */
  amount: number;
  bills: number;
  coinsIn: number;
  /** Coins owed for the cash (amount / 10) plus the bonus; for remote the coins asked for. */
  base: number;
  bonus: number;
  due: number;
  /** Coins paid by earlier attempts. */
  paid: number;
  balanceBefore: number;
  balanceAfter: number;
  startAt: number;
  payoutId: string;
  commandId: string;
  operator: string | null;
  reason: string | null;
}

export interface RemoteRecord {
  txnId: string;
  coins: number;
  /** `cancelled`: its deadline passed before the payout started; nothing was paid. */
  state: 'queued' | 'done' | 'cancelled';
  startedAt: number;
  coinsDispensed: number;
  coinsUnpaid: number;
  coinsRemaining: number;
  executionTimeMs: number;
  success: boolean;
}

/** A fresh payout id: never reused, whatever happens to the Redis sequence counters. */
export const newPayoutId = (): string => `po-${randomUUID()}`;

const n = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));
const s = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);

export async function readIntent(redis: Redis, keys: RedisKeys, payoutId: string): Promise<PayoutIntent | null> {
  const h = await redis.hgetall(keys.payoutIntent(payoutId));
  if (!h.state) return null;
  return {
    payoutId,
    purpose: h.purpose as PayoutPurpose,
    ref: h.ref ?? '',
    coins: n(h.coins),
    state: h.state as IntentState,
    createdAt: n(h.createdAt),
    sentAt: n(h.sentAt),
    paid: n(h.paid),
    attempt: n(h.attempt),
  };
}

export function intentFields(i: Omit<PayoutIntent, 'sentAt' | 'paid' | 'attempt' | 'state'>): Record<string, string | number> {
  return { payoutId: i.payoutId, purpose: i.purpose, ref: i.ref, coins: i.coins, state: 'queued', createdAt: i.createdAt, sentAt: 0, paid: 0, attempt: 0 };
}

export async function readTransaction(redis: Redis, keys: RedisKeys, txnId: string): Promise<OpenTransaction | null> {
  const h = await redis.hgetall(keys.openTransaction(txnId));
  if (!h.txnId) return null;
  return {
    txnId,
    type: h.type as TransactionType,
    amount: n(h.amount),
    bills: n(h.bills),
    coinsIn: n(h.coinsIn),
    base: n(h.base),
    bonus: n(h.bonus),
    due: n(h.due),
    paid: n(h.paid),
    balanceBefore: n(h.balanceBefore),
    balanceAfter: n(h.balanceAfter),
    startAt: n(h.startAt),
    payoutId: h.payoutId ?? '',
    commandId: h.commandId ?? '',
    operator: s(h.operator),
    reason: s(h.reason),
  };
}

export function transactionFields(t: OpenTransaction): Record<string, string | number> {
  return { ...t, operator: t.operator ?? '', reason: t.reason ?? '' };
}

export async function readRemote(redis: Redis, keys: RedisKeys, commandId: string): Promise<RemoteRecord | null> {
  const h = await redis.hgetall(keys.remoteDispense(commandId));
  if (!h.txnId) return null;
  return {
    txnId: h.txnId,
    coins: n(h.coins),
    state: h.state as RemoteRecord['state'],
    startedAt: n(h.startedAt),
    coinsDispensed: n(h.coinsDispensed),
    coinsUnpaid: n(h.coinsUnpaid),
    coinsRemaining: n(h.coinsRemaining),
    executionTimeMs: n(h.executionTimeMs),
    success: h.success === '1',
  };
}

/** The lane's head intent, or null when the lane is empty. */
export async function laneHead(redis: Redis, keys: RedisKeys): Promise<PayoutIntent | null> {
  const id = await redis.lindex(keys.payoutLane, 0);
  return id === null ? null : readIntent(redis, keys, id);
}
