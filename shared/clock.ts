/**
 * Time: an injectable clock, protocol timestamps and calendar fields in the
 * configured zone (docs/protocol.md#3-envelope: the envelope carries the true epoch; only
 * calendar fields use Asia/Taipei).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock for tests: starts at `startMs`, moves only when told. */
export function fixedClock(startMs: number): Clock & { set(ms: number): void; advance(ms: number): void } {
  let t = startMs;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/**
 * Runs `fn` on every wall-clock multiple of `periodMs` until the returned
 * stop is called. Periodic writes of every app put on the same grid reach
 * Redis together and share its fsyncs (with `appendfsync always` Redis
 * fsyncs once for all the writes it read in one pass). `fn` runs one at a
 * time: the next wait starts once it has settled.
 */
export function onWallClockGrid(periodMs: number, fn: () => unknown): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = () => {
    if (stopped) return;
    const wait = periodMs - (Date.now() % periodMs);
    // A timer that fired a hair before the boundary must not run twice.
    timer = setTimeout(() => void Promise.resolve().then(fn).catch(() => undefined).finally(next), wait < periodMs / 10 ? wait + periodMs : wait);
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export type TimestampFormat = 'unix' | 'iso8601';
export type Timestamp = number | string;

/** A protocol timestamp: integer Unix seconds, or ISO 8601 UTC with milliseconds. */
export function formatTimestamp(ms: number, format: TimestampFormat): Timestamp {
  return format === 'iso8601' ? new Date(ms).toISOString() : Math.floor(ms / 1000);
}

/** Reads an inbound timestamp in either form; returns epoch ms or null when unreadable. */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Seconds; a value this large can only be milliseconds.
    return value > 1e11 ? Math.floor(value) : Math.floor(value * 1000);
  }
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

export interface LocalParts {
  /** YYYYMMDD */
  date: string;
  /** HHMMSS */
  time: string;
  /** YYYY-MM-DD */
  isoDate: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Calendar date and time of `ms` in `timeZone`. */
export function localParts(ms: number, timeZone: string): LocalParts {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(ms)) p[part.type] = part.value;
  return {
    date: `${p.year}${p.month}${p.day}`,
    time: `${p.hour}${p.minute}${p.second}`,
    isoDate: `${p.year}-${p.month}-${p.day}`,
  };
}

/** The local calendar day (YYYYMMDD) of `ms`: the key of every "today" statistic. */
export function localDay(ms: number, timeZone: string): string {
  return localParts(ms, timeZone).date;
}
