import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { localParts, type Clock } from './clock.js';
import type { RedisKeys } from './keys.js';

/** A message id: UUID v4 (docs/protocol.md#3-envelope). */
export const newMessageId = (): string => randomUUID();

export type TransactionKind = 'TXN' | 'REMOTE';

/**
 * `transaction_id` = {TYPE}_{YYYYMMDD}_{HHMMSS}_{SEQ} (docs/protocol.md#transaction).
 * SEQ is a per-type counter per local day, kept in Redis: INCR is atomic, so
 * two processes never share a number, and the counter survives restarts.
 * A new local day starts a new key (reset at local midnight); the key lives
 * 3 days so it cannot be reused by a clock that steps back a little.
 */
export async function nextTransactionId(
  redis: Redis,
  keys: RedisKeys,
  kind: TransactionKind,
  clock: Clock,
  timeZone: string,
): Promise<string> {
  const { date, time } = localParts(clock.now(), timeZone);
  const key = keys.txnSeq(kind, date);
  const [[, seq]] = (await redis.multi().incr(key).expire(key, 3 * 86_400).exec()) as [[Error | null, number]];
  return formatTransactionId(kind, date, time, seq);
}

export function formatTransactionId(kind: TransactionKind, date: string, time: string, seq: number): string {
  return `${kind}_${date}_${time}_${String(seq).padStart(3, '0')}`;
}

export const transactionIdPattern = /^(TXN|REMOTE)_(\d{8})_(\d{6})_(\d{3,})$/;
