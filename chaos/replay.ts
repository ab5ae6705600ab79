/**
 * The cloud's recovery of what it missed (docs/protocol.md#4-ack-and-retransmission, docs/protocol.md#7-commands): journal
 * entries whose message never reached the cloud are asked for again with
 * signed `query` `transactions` commands, at most 100 entries per query, and
 * must then arrive with their original message_id.
 */
import { readJournalEntries, type JournalEntry } from '../shared/journal.js';
import { waitFor } from '../test/helpers/env.js';
import { commandId } from './plan.js';
import type { Rig } from './rig.js';

export interface ReplayOutcome {
  /** Journal entries the cloud had not received before the queries. */
  missing: Array<{ transactionId: string; messageId: string }>;
  /** Message ids of those that arrived after the queries. */
  recovered: string[];
  /** transactions queries sent, with their results' status. */
  queries: Array<{ id: string; since: number; until: number; status: string; count: number | null }>;
}

/** The query's own limit (docs/protocol.md#7-commands). */
const QUERY_LIMIT = 100;

export function cloudTransactionIds(rig: Rig): Set<string> {
  return new Set(rig.peer.unique('transaction').map((r) => String(r.payload.message_id)));
}

/** Ranges [since, until] (epoch ms, inclusive) that cover every missing entry with at most QUERY_LIMIT journal entries each. */
export function queryRanges(journal: readonly JournalEntry[], missing: readonly JournalEntry[]): Array<[number, number]> {
  const ats = journal.map((e) => e.at).sort((a, b) => a - b);
  const within = (since: number, until: number) => ats.filter((a) => a >= since && a <= until).length;
  const ranges: Array<[number, number]> = [];
  for (const m of [...missing].sort((a, b) => a.at - b.at)) {
    const last = ranges[ranges.length - 1];
    if (last && m.at <= last[1]) continue;
    if (last && within(last[0], m.at) <= QUERY_LIMIT) last[1] = m.at;
    else ranges.push([m.at, m.at]);
  }
  return ranges;
}

export async function replayMissing(rig: Rig, seed: number, timeoutMs: number): Promise<ReplayOutcome> {
  const journal = await readJournalEntries(rig.db, rig.env.keys, { since: null, until: null, limit: Number.MAX_SAFE_INTEGER });
  const atCloud = cloudTransactionIds(rig);
  const missingEntries = journal.filter((e) => !atCloud.has(e.envelope.message_id));
  const outcome: ReplayOutcome = {
    missing: missingEntries.map((e) => ({ transactionId: e.transactionId, messageId: e.envelope.message_id })),
    recovered: [],
    queries: [],
  };
  if (missingEntries.length === 0) return outcome;
  let n = 0;
  for (const [since, until] of queryRanges(journal, missingEntries)) {
    const id = commandId(seed, `Q${++n}`);
    const result = await rig.commands.sendUntilAnswered(id, 'query', { query_type: 'transactions', since, until, limit: QUERY_LIMIT }, timeoutMs);
    const count = typeof result?.result.count === 'number' ? result.result.count : null;
    outcome.queries.push({ id, since, until, status: result?.status ?? 'no result', count });
  }
  const wanted = outcome.missing.map((m) => m.messageId);
  await waitFor(() => wanted.every((id) => cloudTransactionIds(rig).has(id)), timeoutMs, 'replayed transactions', 200).catch(() => undefined);
  const after = cloudTransactionIds(rig);
  outcome.recovered = wanted.filter((id) => after.has(id));
  return outcome;
}
