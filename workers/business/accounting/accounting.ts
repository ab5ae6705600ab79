/**
 * `accounting` messages (docs/protocol.md#accounting): after every transaction and
 * remote dispense, on request, and the daily close at 23:59 local time with
 * that day's summary. Accounting is cumulative, so a lost one is superseded
 * by the next; the daily close is committed at most once per local day.
 */
import { localParts } from '../../../shared/clock.js';
import { machineStatusDescription, mostSevereAlarm, mostSevereError } from '../../../shared/codes.js';
import type { AccountingData } from '../../../shared/messages.js';
import { readMachineSnapshot, type MachineSnapshot } from '../../../shared/machine-state.js';
import { DAILY_TTL_SECONDS, EMIT_GUARD_SECONDS, newPlan, today, type BusinessDeps } from '../deps.js';

export function accountingData(s: MachineSnapshot): AccountingData {
  const c = s.counters;
  return {
    machine_status: s.status,
    status_description: machineStatusDescription[s.status],
    counters: {
      total_bills: c.total_bills,
      total_coins: c.total_coins,
      total_dispensed: c.total_dispensed,
      remote_dispensed: c.remote_dispensed,
      bonus_coins: c.bonus_coins,
    },
    current_state: { debt_coins: c.debt_coins, balance: c.balance },
    codes: { alarm_code: mostSevereAlarm(s.activeAlarms), error_code: mostSevereError(s.activeErrors) },
  };
}

/** The `daily` summary of the daily close: that local day's totals. */
export function dailySummary(s: MachineSnapshot, isoDate: string): Record<string, unknown> {
  const t = s.today;
  return {
    date: isoDate,
    exchanges: t.exchanges,
    transactions: t.transactions,
    bills_ntd: t.bills,
    coins_ntd: t.coins,
    cash_in_ntd: t.bills + t.coins,
    coins_dispensed: t.coins_dispensed,
    remote_dispensed: t.remote_dispensed,
    bonus_coins: t.bonus_coins,
    new_debt_coins: t.debt_coins,
    errors: t.errors,
  };
}

export class Accounting {
  constructor(private readonly core: BusinessDeps) {}

  /** Commits an accounting snapshot of now, or of `snapshot` just read (the caller drains the publisher). */
  async publish(snapshot?: MachineSnapshot): Promise<void> {
    const s = snapshot ?? (await readMachineSnapshot(this.core.redis, this.core.keys, today(this.core)));
    const envelope = await this.core.publisher.envelope('accounting', accountingData(s));
    await newPlan(this.core).guard(this.core.keys.emitted(envelope.message_id), EMIT_GUARD_SECONDS).emit(envelope).commit(this.core.redis);
  }

  /**
   * The daily close of the local day containing `atMs`. At most once per
   * day: a re-run (a stalled scheduler job) finds the day's guard and
   * commits nothing. Resolves true when it committed the report now.
   */
  async closeDay(atMs: number): Promise<boolean> {
    // The calendar day that ends at or contains `atMs`: midnight closes the day before, in full.
    const inDay = atMs - 1;
    const day = today(this.core, inDay);
    const s = await readMachineSnapshot(this.core.redis, this.core.keys, day);
    const data = { ...accountingData(s), report: 'daily_close' as const, daily: dailySummary(s, localParts(inDay, this.core.config.timezone).isoDate) };
    const envelope = await this.core.publisher.envelope('accounting', data);
    const result = await newPlan(this.core).guard(this.core.keys.dailyClose(day), DAILY_TTL_SECONDS).emit(envelope).commit(this.core.redis);
    if (result === 'ok') this.core.log.info({ day }, 'daily close committed');
    return result === 'ok';
  }
}
