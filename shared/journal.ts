/**
 * The transaction journal (docs/protocol.md#8-local-durability), written by the business app in
 * the same script as the counters (workers/business/store/plan.ts):
 *
 *  - `journal` zset: transaction id scored by the epoch ms the transaction finished;
 *  - `journal:<transactionId>` hash: `envelope` (the original `transaction`
 *    message as JSON, without `seq`), `seq` (0 when the extension is off), `at` (ms).
 *
 * Entries are kept at least 30 days (JOURNAL_KEEP_MS). Readers get the
 * original envelope, message id and `seq` included, so a re-publication is
 * the same message (docs/protocol.md#3-envelope).
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { envelopeSchema, type Envelope } from './messages.js';

/** Journal entries older than this are trimmed: 35 days, above the 30 the protocol asks for. */
export const JOURNAL_KEEP_MS = 35 * 86_400_000;

export interface JournalRange {
  /** Epoch ms, inclusive; null = from the oldest entry kept. */
  since: number | null;
  /** Epoch ms, inclusive; null = up to now. */
  until: number | null;
  /** At most this many entries, listed oldest first. */
  limit: number;
  /** Which end of the range the limit keeps: the oldest entries (default) or the newest. */
  keep?: 'oldest' | 'newest';
}

export interface JournalEntry {
  transactionId: string;
  /** Epoch ms the transaction finished. */
  at: number;
  envelope: Envelope;
}

export async function readJournalEntries(redis: Redis, keys: RedisKeys, range: JournalRange): Promise<JournalEntry[]> {
  const min = range.since ?? '-inf';
  const max = range.until ?? '+inf';
  const limit = Math.max(0, range.limit);
  const ids =
    range.keep === 'newest'
      ? (await redis.zrevrangebyscore(keys.journal, max, min, 'LIMIT', 0, limit)).reverse()
      : await redis.zrangebyscore(keys.journal, min, max, 'LIMIT', 0, limit);
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(keys.journalEntry(id));
  const replies = (await pipe.exec()) ?? [];
  const out: JournalEntry[] = [];
  ids.forEach((id, i) => {
    const h = (replies[i]?.[1] ?? {}) as Record<string, string>;
    if (!h.envelope) return;
    const seq = Number(h.seq ?? 0);
    const parsed = envelopeSchema.safeParse(seq > 0 ? { ...JSON.parse(h.envelope), seq } : JSON.parse(h.envelope));
    if (parsed.success) out.push({ transactionId: id, at: Number(h.at ?? 0), envelope: parsed.data });
  });
  return out;
}

/**
 * Deletes every entry older than JOURNAL_KEEP_MS, `batch` at a time (each
 * batch one short MULTI, so Redis is never blocked for long), until none is
 * left. Resolves with how many went.
 */
export async function trimJournal(redis: Redis, keys: RedisKeys, nowMs: number, batch = 500): Promise<number> {
  let trimmed = 0;
  for (;;) {
    const old = await redis.zrangebyscore(keys.journal, '-inf', nowMs - JOURNAL_KEEP_MS, 'LIMIT', 0, batch);
    if (old.length === 0) return trimmed;
    await redis.multi().del(...old.map((id) => keys.journalEntry(id))).zrem(keys.journal, ...old).exec();
    trimmed += old.length;
  }
}
