/**
 * Debt in doubt and error 51 (兌幣紀錄異常). A payout whose outcome the
 * hardware cannot tell is settled as unpaid: its coins become debt, held in
 * `keys.debtDoubt`, and 51 is raised — all in the settlement's own write
 * (payout-lane.ts). The lane never pays coins in doubt. A person counts the
 * hopper and says what happened (docs/commands.md "Error 51"):
 *
 *  - `paid`: the coins left the hopper. The debt is written off and the
 *    coins are booked as dispensed, and taken off the books' level unless a
 *    level the hardware counted since has them out already (level.ts);
 *  - `not_paid`: they did not. The debt becomes payable and the lane pays it;
 *  - no choice (51 cleared at the machine's settings menu, or `clear_error`
 *    without `coins_paid`): 51 is cleared and nothing is paid; the coins stay
 *    held until one of the two choices is given.
 *
 * Each choice is one atomic write that also clears 51 and records the
 * decision in the journal (an `error` 51 `cleared` message whose context
 * says what was decided).
 */
import { CommandError } from '../../../shared/errors.js';
import { JOURNAL_KEEP_MS } from '../../../shared/journal.js';
import { DAILY_TTL_SECONDS, newPlan, today, type BusinessDeps } from '../deps.js';
import { serviceAvailable } from '../../../shared/codes.js';
import type { Faults } from '../faults/faults.js';
import { errorData } from '../faults/messages.js';
import type { StateView } from '../state/state-view.js';
import type { Plan } from '../store/plan.js';

export type DoubtChoice = 'paid' | 'not_paid';

export interface DoubtDecision {
  /** The command that carries the decision: the same id decides once, and a re-run gets the same answer. */
  commandId?: string | null;
  choice: DoubtChoice | null;
  operator: string | null;
  reason: string | null;
}

export interface DoubtResolution {
  choice: DoubtChoice | null;
  /** Coins that were in doubt. */
  coinsInDoubt: number;
  /** Coins written off the debt (choice `paid`). */
  debtWrittenOff: number;
  /** Coins now payable (choice `not_paid`). */
  debtToPay: number;
  /** Debt left on the books after the decision. */
  debtAfter: number;
}

/** A decision is remembered as long as the journal that records it. */
const DECISION_TTL_SECONDS = JOURNAL_KEEP_MS / 1000;

/** Journal member of a decision: unique per millisecond, sorted with the transactions by time. */
const journalMember = (at: number) => `DEBT51_${at}`;

export class DebtDoubt {
  constructor(
    private readonly core: BusinessDeps,
    private readonly faults: Faults,
  ) {}

  private async read(): Promise<{ coins: number; unseenField: string | null; acknowledged: boolean; debt: number; debtField: string | null }> {
    const [doubt, debt] = await Promise.all([this.core.redis.hgetall(this.core.keys.debtDoubt), this.core.redis.hget(this.core.keys.counters, 'debt_coins')]);
    return { coins: Number(doubt.coins ?? 0), unseenField: doubt.unseen ?? null, acknowledged: doubt.acknowledged === '1', debt: Number(debt ?? 0), debtField: debt };
  }

  /**
   * Applies a person's decision about error 51. Without a choice only 51 is
   * cleared (the coins stay held); refused when there is neither 51 nor debt in doubt.
   */
  async decide(decision: DoubtDecision): Promise<DoubtResolution> {
    const keys = this.core.keys;
    const now = this.core.clock.now();
    // A command re-run after a crash between the decision's write and its stored result is answered
    // from the decision, not refused as if nothing were in doubt (the write already cleared 51).
    const decisionKey = decision.commandId ? keys.doubtDecision(decision.commandId) : null;
    const decided = decisionKey ? await this.core.redis.hget(decisionKey, 'resolution') : null;
    if (decided) return JSON.parse(decided) as DoubtResolution;
    const doubt = await this.read();
    const active = await this.faults.active();
    if (doubt.coins === 0 && !active.errors.includes(51)) throw new CommandError('NOT_PERMITTED', '沒有待確認的出幣紀錄 (no error 51 and no debt in doubt)');
    const inDoubt = Math.min(doubt.coins, doubt.debt);
    const writtenOff = decision.choice === 'paid' ? inDoubt : 0;
    const resolution: DoubtResolution = {
      choice: decision.choice,
      coinsInDoubt: doubt.coins,
      debtWrittenOff: writtenOff,
      debtToPay: decision.choice === 'not_paid' ? inDoubt : 0,
      debtAfter: doubt.debt - writtenOff,
    };
    // Decided on what was read: a payout settling in between makes the plan stale instead of wrong.
    const plan = newPlan(this.core);
    if (doubt.debtField === null) plan.expectAbsent(keys.counters, 'debt_coins');
    else plan.expectEq(keys.counters, 'debt_coins', doubt.debtField);
    if (doubt.coins > 0) plan.expectEq(keys.debtDoubt, 'coins', String(doubt.coins));
    else plan.expectAbsent(keys.debtDoubt, 'coins');
    // A level counted in between makes the plan stale: the coins it has out are not taken off twice.
    if (doubt.unseenField === null) plan.expectAbsent(keys.debtDoubt, 'unseen');
    else plan.expectEq(keys.debtDoubt, 'unseen', doubt.unseenField);
    if (decision.choice === null) {
      if (doubt.coins > 0) plan.hset(keys.debtDoubt, { acknowledged: 1 });
    } else {
      plan.del(keys.debtDoubt);
    }
    if (writtenOff > 0) {
      // The coins left the hopper: booked as a debt payout would have booked them.
      const daily = keys.daily(today(this.core, now));
      plan
        .hincr(keys.counters, { debt_coins: -writtenOff, total_dispensed: writtenOff })
        .floor0(keys.counters, 'debt_coins')
        .hincr(daily, { coins_dispensed: writtenOff })
        .expire(daily, DAILY_TTL_SECONDS);
      // Doubt written before `unseen` existed counts as never seen by a level.
      const offLevel = Math.min(writtenOff, doubt.unseenField === null ? writtenOff : Number(doubt.unseenField));
      if (offLevel > 0 && (await this.core.redis.hexists(keys.machine, 'inventory')) === 1) plan.hincr(keys.machine, { inventory: -offLevel }).floor0(keys.machine, 'inventory');
    }
    const context = {
      resolution: decision.choice ?? 'none',
      coins_in_doubt: resolution.coinsInDoubt,
      debt_written_off: resolution.debtWrittenOff,
      debt_to_pay: resolution.debtToPay,
      debt_coins: resolution.debtAfter,
      operator_id: decision.operator,
      reason: decision.reason,
    };
    if (decisionKey) {
      plan.expectAbsent(decisionKey, 'resolution');
      plan.hset(decisionKey, { resolution: JSON.stringify(resolution) }).expire(decisionKey, DECISION_TTL_SECONDS);
    }
    const member = journalMember(now);
    if (!(await this.faults.clearWith(plan, 'error', 51, { context }, { member }))) {
      // 51 was already cleared without a choice: the decision is still announced and journaled.
      const envelope = await this.core.publisher.envelope('error', errorData(51, 'cleared', context, serviceAvailable(active)));
      plan.emit(envelope, { entryKey: keys.journalEntry(member), indexKey: keys.journal, member, at: now });
    }
    const result = await plan.commit(this.core.redis);
    if (result !== 'ok') throw new CommandError('BUSY', 'the books changed while deciding; send it again');
    this.core.log.warn({ ...context }, 'error 51 decided');
    return resolution;
  }

  /** A clear of 51 from the hardware (the machine's settings menu): a decision without a choice. */
  async clearedAtMachine(): Promise<void> {
    const doubt = await this.read();
    if (doubt.coins === 0) {
      await this.faults.clear('error', 51);
      return;
    }
    await this.decide({ choice: null, operator: null, reason: 'cleared at the machine' });
  }

  /**
   * Re-derives 51 from the books: debt in doubt that nobody acknowledged
   * must have 51 active. With the settlement writing both at once this only
   * repairs state written by older versions or by hand.
   */
  async rederive(v: StateView): Promise<boolean> {
    if (v.doubt.coins <= 0 || v.doubt.acknowledged || v.codes['error:51'] !== undefined) return false;
    const plan: Plan = newPlan(this.core).expectEq(this.core.keys.debtDoubt, 'coins', String(v.doubt.coins));
    const raised = await this.faults.raiseWith(plan, 'error', 51, {
      source: 'engine',
      context: { coins_in_doubt: v.doubt.coins, debt_coins: v.snapshot.counters.debt_coins, rederived: true },
    });
    return raised && (await plan.commit(this.core.redis)) === 'ok';
  }
}
