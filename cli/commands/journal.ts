/**
 * `coinerex journal [--since <iso|unix>] [--until <iso|unix>] [--limit N] [--json]`:
 * the transaction journal (docs/protocol.md#8-local-durability), oldest first — one line per
 * transaction, or the original envelopes as JSON lines with `--json`. The
 * limit (default 50) keeps the latest entries, or the first ones from --since on.
 * Exit codes: 0 shown, 2 bad arguments, 69 Redis unreachable, 78 bad configuration.
 */
import { Redis } from 'ioredis';
import { loadConfig, ConfigError, type Config } from '../../shared/config.js';
import { localParts, parseTimestamp } from '../../shared/clock.js';
import { readJournalEntries, type JournalEntry, type JournalRange } from '../../shared/journal.js';
import { redisKeys } from '../../shared/keys.js';

export const summary = 'list journal entries (--since, --until: ISO 8601 or Unix seconds; --limit N; --json)';

const usage = 'usage: coinerex journal [--since <iso|unix>] [--until <iso|unix>] [--limit N] [--json]';
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100_000;
const MAX_DATE_MS = 8.64e15;

export interface JournalArgs extends JournalRange {
  json: boolean;
}

/** Parses the arguments; a string is the problem to report. */
export function parseJournalArgs(args: string[]): JournalArgs | string {
  const out: JournalArgs = { since: null, until: null, limit: DEFAULT_LIMIT, json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') {
      out.json = true;
      continue;
    }
    if (a !== '--since' && a !== '--until' && a !== '--limit') return `unexpected "${a}"`;
    const v = args[++i];
    if (v === undefined) return `${a} needs a value`;
    if (a === '--limit') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) return `--limit: expected an integer 1..${MAX_LIMIT}; got "${v}"`;
      out.limit = n;
      continue;
    }
    const ms = parseTimestamp(/^\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    // Past the last instant a Date can hold (year 275760) a number is no time at all.
    if (ms === null || ms > MAX_DATE_MS) return `${a}: expected an ISO 8601 time (2025-09-12T10:30:00Z) or Unix seconds; got "${v}"`;
    if (a === '--since') out.since = ms;
    else out.until = ms;
  }
  if (out.since !== null && out.until !== null && out.since > out.until) return '--since is after --until';
  // Without --since an operator wants the latest entries; with it, the first ones from that time on.
  if (out.since === null) out.keep = 'newest';
  return out;
}

export function formatEntry(e: JournalEntry, tz: string): string {
  const d = e.envelope.data as Record<string, any>;
  const p = localParts(e.at, tz);
  const when = `${p.isoDate} ${p.time.slice(0, 2)}:${p.time.slice(2, 4)}:${p.time.slice(4)}`;
  const amounts = d.amounts ?? {};
  const what = d.transaction_type === 'remote_dispense' ? `remote ${d.command_id ?? ''}`.trim() : `in ${amounts.transaction_amount ?? 0} NTD`;
  const debt = d.debt_coins ? `  debt ${d.debt_coins}` : '';
  return `${when}  ${d.transaction_id}  ${what}  out ${amounts.coins_dispensed ?? 0} coins  ${d.success ? 'ok' : 'FAILED'}${debt}  msg ${e.envelope.message_id}${e.envelope.seq ? ` seq ${e.envelope.seq}` : ''}`;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseJournalArgs(args);
  if (typeof parsed === 'string') {
    process.stderr.write(`coinerex journal: ${parsed}\n${usage}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`coinerex journal: ${err.message}\n`);
    return 78;
  }
  const redis = new Redis(config.redisUrl, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  let entries: JournalEntry[];
  try {
    await redis.connect();
    entries = await readJournalEntries(redis, redisKeys(config.redisPrefix, config.deviceId), parsed);
  } catch (err) {
    process.stderr.write(`coinerex journal: Redis at ${config.redisUrl} unreachable: ${(err as Error).message}\n`);
    return 69;
  } finally {
    redis.disconnect();
  }
  if (parsed.json) {
    for (const e of entries) process.stdout.write(`${JSON.stringify(e.envelope)}\n`);
  } else if (entries.length === 0) {
    process.stdout.write('no journal entries in that range\n');
  } else {
    for (const e of entries) process.stdout.write(`${formatEntry(e, config.timezone)}\n`);
  }
  return 0;
}
