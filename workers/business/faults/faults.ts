/**
 * Raising and clearing error and alarm codes. The active set lives in the
 * `codes` hash (shared/machine-state.ts); a raise or clear changes it and
 * commits its message in one plan, guarded by the code's presence, so a code
 * is announced once per raise and once per clear, even when an event is
 * re-delivered. Raised errors count in the day's `errors`.
 */
import { formatTimestamp } from '../../../shared/clock.js';
import { alarmCodes, errorCodes, serviceAvailable, type ActiveCodes } from '../../../shared/codes.js';
import { DAILY_TTL_SECONDS, newPlan, today, type BusinessDeps } from '../deps.js';
import type { Plan } from '../store/plan.js';
import { alarmData, errorData } from './messages.js';

export type CodeKind = 'error' | 'alarm';

/** What raised a code; `link up` clears only what `link down` raised. */
export type CodeSource = 'hardware' | 'link' | 'payout' | 'engine' | 'lock' | 'door' | 'inventory' | 'unmapped' | 'memory' | 'events';

export interface RaiseOptions {
  source: CodeSource;
  /** error: `context`; alarm: `details`. */
  context?: Record<string, unknown>;
  /** alarm `current_level`. */
  level?: number | string | null;
}

export interface ClearOptions {
  /** Only clear when the code was raised by this source. */
  onlySource?: CodeSource;
  context?: Record<string, unknown>;
  level?: number | string | null;
}

const field = (kind: CodeKind, code: number) => `${kind}:${code}`;

export class Faults {
  constructor(private readonly core: BusinessDeps) {}

  async active(): Promise<ActiveCodes & { raisedAt: Map<string, number> }> {
    const h = await this.core.redis.hgetall(this.core.keys.activeCodes);
    const list = (kind: CodeKind) =>
      Object.keys(h)
        .filter((k) => k.startsWith(`${kind}:`))
        .map((k) => Number(k.slice(kind.length + 1)))
        .sort((a, b) => a - b);
    return { errors: list('error'), alarms: list('alarm'), raisedAt: new Map(Object.entries(h).map(([k, v]) => [k, Number(v)])) };
  }

  async isActive(kind: CodeKind, code: number): Promise<boolean> {
    return (await this.core.redis.hexists(this.core.keys.activeCodes, field(kind, code))) === 1;
  }

  /** Raises `code` unless already active. Resolves true when it was raised now. */
  async raise(kind: CodeKind, code: number, opts: RaiseOptions): Promise<boolean> {
    const plan = newPlan(this.core);
    if (!(await this.raiseWith(plan, kind, code, opts))) return false;
    return (await plan.commit(this.core.redis)) === 'ok';
  }

  /**
   * Adds the raise of `code` to `plan`, so the code and the change that
   * causes it are one atomic write. False when it is already active (the
   * plan then only applies while it still is) or unknown.
   */
  async raiseWith(plan: Plan, kind: CodeKind, code: number, opts: RaiseOptions): Promise<boolean> {
    if (!(kind === 'error' ? errorCodes : alarmCodes).has(code)) {
      this.core.log.warn({ kind, code }, 'unknown code ignored');
      return false;
    }
    const f = field(kind, code);
    const active = await this.active();
    if (active.raisedAt.has(f)) {
      plan.expectPresent(this.core.keys.activeCodes, f);
      return false;
    }
    const after = { errors: kind === 'error' ? [...active.errors, code] : active.errors, alarms: kind === 'alarm' ? [...active.alarms, code] : active.alarms };
    const now = this.core.clock.now();
    const data =
      kind === 'error'
        ? errorData(code, 'raised', opts.context ?? {}, serviceAvailable(after))
        : alarmData(code, 'raised', opts.level ?? null, opts.context ?? {}, serviceAvailable(after));
    const envelope = await this.core.publisher.envelope(kind, data);
    plan
      .expectAbsent(this.core.keys.activeCodes, f)
      .hset(this.core.keys.activeCodes, { [f]: now })
      .hset(this.core.keys.codeSources, { [f]: opts.source })
      .emit(envelope);
    if (kind === 'error') {
      const daily = this.core.keys.daily(today(this.core, now));
      plan.hincr(daily, { errors: 1 }).expire(daily, DAILY_TTL_SECONDS);
    }
    plan.onCommitted(() => {
      this.core.log.info({ kind, code, source: opts.source }, 'code raised');
      this.core.metrics.incr('business_codes_raised_total', { kind, code });
    });
    return true;
  }

  /** Clears `code` if active (and raised by `onlySource` when given). Resolves true when it was cleared now. */
  async clear(kind: CodeKind, code: number, opts: ClearOptions = {}): Promise<boolean> {
    const plan = newPlan(this.core);
    if (!(await this.clearWith(plan, kind, code, opts))) return false;
    return (await plan.commit(this.core.redis)) === 'ok';
  }

  /**
   * Adds the clear of `code` to `plan` (one atomic write with what resolves
   * it). False when it is not active (the plan then only applies while it
   * still is not) or was raised by another source than `onlySource`.
   */
  async clearWith(plan: Plan, kind: CodeKind, code: number, opts: ClearOptions = {}, journal?: { member: string }): Promise<boolean> {
    const f = field(kind, code);
    const active = await this.active();
    const raisedAt = active.raisedAt.get(f);
    if (raisedAt === undefined) {
      plan.expectAbsent(this.core.keys.activeCodes, f);
      return false;
    }
    const source = await this.core.redis.hget(this.core.keys.codeSources, f);
    if (opts.onlySource && source !== opts.onlySource) return false;
    const after = { errors: active.errors.filter((c) => kind !== 'error' || c !== code), alarms: active.alarms.filter((c) => kind !== 'alarm' || c !== code) };
    const now = this.core.clock.now();
    const context = { ...opts.context, raised_at: formatTimestamp(raisedAt, this.core.config.timestampFormat), duration_seconds: Math.max(0, Math.round((now - raisedAt) / 1000)) };
    const data =
      kind === 'error'
        ? errorData(code, 'cleared', context, serviceAvailable(after))
        : alarmData(code, 'cleared', opts.level ?? null, context, serviceAvailable(after));
    const envelope = await this.core.publisher.envelope(kind, data);
    plan
      .expectEq(this.core.keys.activeCodes, f, String(raisedAt))
      .hdel(this.core.keys.activeCodes, f)
      .hdel(this.core.keys.codeSources, f)
      .emit(envelope, journal && { entryKey: this.core.keys.journalEntry(journal.member), indexKey: this.core.keys.journal, member: journal.member, at: now });
    plan.onCommitted(() => this.core.log.info({ kind, code }, 'code cleared'));
    return true;
  }
}
