/**
 * The one payout lane (docs/architecture.md#invariant-2): exchanges, debt and
 * remote dispenses queue as payout intents and are paid one at a time, never
 * overlapping. An intent is recorded durably (queued) before anything is
 * sent, marked `sent` before the `payout` command leaves, and settled once
 * from the hardware's report of what it paid. Each step is one guarded plan.
 *
 * Debt is paid first: whenever coins may be available and debt is owed, a
 * debt intent goes to the head of the lane before the next payout starts.
 */
import { nextTransactionId } from '../../../shared/ids.js';
import { isCritical } from '../../../shared/codes.js';
import type { HwEvent } from '../../../queue/jobs.js';
import { APPLIED_TTL_SECONDS, DAILY_TTL_SECONDS, newPlan, today, type BusinessDeps } from '../deps.js';
import type { Faults } from '../faults/faults.js';
import {
  intentFields,
  laneHead,
  newPayoutId,
  readIntent,
  readTransaction,
  transactionFields,
  type OpenTransaction,
  type PayoutIntent,
} from '../state/records.js';
import { settleAttempt, type AttemptEnd, type Settlement } from './settlement.js';

type Credit = Extract<HwEvent, { kind: 'bill_accepted' | 'coin_accepted' }>;

export interface LaneGate {
  /** Active error codes now. */
  errors: number[];
  /** Books inventory, or null when the hardware never reported one. */
  inventory: number | null;
  debt: number;
  /** Part of `debt` whose payout ended with an unknown outcome: held until a person resolves it. */
  doubt: number;
}

/** A payout for a remote `coin_dispense` command (what the machine port hands the lane). */
export interface RemoteDispenseRequest {
  commandId: string;
  coins: number;
  operatorAccount: string | null;
  reason: string | null;
  /** Epoch ms: a payout not started by then is cancelled and the call rejects with EXPIRED. */
  deadline: number;
}

export class PayoutLane {
  constructor(
    private readonly core: BusinessDeps,
    private readonly faults: Faults,
  ) {}

  private get keys() {
    return this.core.keys;
  }

  /**
   * Counts an accepted bill or coin and queues its payout. False when the
   * event was applied before. Customers are paid in 10 NTD coins: what is
   * below one coin (1 and 5 NTD coins) is carried in `credit_ntd` and paid
   * with the next insert, whose transaction then counts the carried cash too.
   */
  async credit(ev: Credit): Promise<boolean> {
    const applied = this.keys.appliedEvent(ev.eventId);
    if ((await this.core.redis.exists(applied)) === 1) return false;
    const now = this.core.clock.now();
    const isBill = ev.kind === 'bill_accepted';
    const [balanceRaw, carriedRaw] = await this.core.redis.hmget(this.keys.counters, 'balance', 'credit_ntd');
    const balance = Number(balanceRaw ?? 0);
    const carried = Number(carriedRaw ?? 0);
    const amount = carried + ev.amount;
    const base = Math.floor(amount / 10);
    const carry = amount % 10;
    const daily = this.keys.daily(today(this.core, now));
    const plan = newPlan(this.core).guard(applied, APPLIED_TTL_SECONDS);
    // The carry is written absolute: it must still be what was read.
    if (carriedRaw == null) plan.expectAbsent(this.keys.counters, 'credit_ntd');
    else plan.expectEq(this.keys.counters, 'credit_ntd', carriedRaw);
    plan
      .hincr(this.keys.counters, { [isBill ? 'total_bills' : 'total_coins']: ev.amount, balance: ev.amount })
      .hset(this.keys.counters, { credit_ntd: carry })
      .hincr(daily, { [isBill ? 'bills' : 'coins']: ev.amount })
      .expire(daily, DAILY_TTL_SECONDS);
    if (base === 0) {
      const result = await plan.commit(this.core.redis);
      if (result === 'stale') throw new Error(`credit ${ev.eventId}: credit_ntd changed under it; retried`);
      if (result === 'ok') this.core.log.info({ eventId: ev.eventId, amount: ev.amount, credit_ntd: carry }, 'cash below one coin: carried as credit');
      return result === 'ok';
    }
    const bonus = this.core.settings.current.bonusTable[String(ev.amount)] ?? 0;
    const txnId = await nextTransactionId(this.core.redis, this.keys, 'TXN', this.core.clock, this.core.config.timezone);
    const payoutId = newPayoutId();
    const txn: OpenTransaction = {
      txnId,
      type: 'exchange',
      amount: amount - carry,
      bills: isBill ? ev.amount : 0,
      // Carried cash is always coins (1 and 5 NTD).
      coinsIn: (isBill ? 0 : ev.amount) + carried - carry,
      base,
      bonus,
      due: base + bonus,
      paid: 0,
      balanceBefore: balance,
      balanceAfter: balance + ev.amount,
      startAt: ev.at,
      payoutId,
      commandId: '',
      operator: null,
      reason: null,
    };
    const result = await plan
      .hset(this.keys.openTransaction(txnId), transactionFields(txn))
      .hset(this.keys.payoutIntent(payoutId), intentFields({ payoutId, purpose: 'exchange', ref: txnId, coins: txn.due, createdAt: now }))
      .rpush(this.keys.payoutLane, payoutId)
      .commit(this.core.redis);
    if (result === 'stale') throw new Error(`credit ${ev.eventId}: credit_ntd changed under it; retried`);
    if (result === 'ok') {
      this.core.log.debug({ txnId, amount, coins: txn.due, payoutId }, 'credit accepted');
      this.core.metrics.incr('business_credits_total', { amount });
    }
    return result === 'ok';
  }

  /** Queues a remote dispense, at most once per command id. Resolves with its transaction id. */
  async remote(req: RemoteDispenseRequest): Promise<string> {
    const now = this.core.clock.now();
    const txnId = await nextTransactionId(this.core.redis, this.keys, 'REMOTE', this.core.clock, this.core.config.timezone);
    const payoutId = newPayoutId();
    const txn: OpenTransaction = {
      txnId,
      type: 'remote_dispense',
      amount: 0,
      bills: 0,
      coinsIn: 0,
      base: req.coins,
      bonus: 0,
      due: req.coins,
      paid: 0,
      balanceBefore: 0,
      balanceAfter: 0,
      startAt: now,
      payoutId,
      commandId: req.commandId,
      operator: req.operatorAccount,
      reason: req.reason,
    };
    const remoteKey = this.keys.remoteDispense(req.commandId);
    const result = await newPlan(this.core)
      .expectAbsent(remoteKey, 'txnId')
      .hset(remoteKey, { txnId, coins: req.coins, state: 'queued', startedAt: now })
      .hset(this.keys.openTransaction(txnId), transactionFields(txn))
      .hset(this.keys.payoutIntent(payoutId), intentFields({ payoutId, purpose: 'remote', ref: txnId, coins: req.coins, createdAt: now }))
      .rpush(this.keys.payoutLane, payoutId)
      .commit(this.core.redis);
    if (result !== 'ok') return (await this.core.redis.hget(remoteKey, 'txnId')) ?? txnId;
    this.core.log.info({ txnId, commandId: req.commandId, coins: req.coins, payoutId }, 'remote dispense queued');
    return txnId;
  }

  /**
   * Cancels a remote dispense whose payout has not started (still queued,
   * nothing paid by any attempt): the intent leaves the lane and the record
   * says `cancelled`, in one write. False when it started (or is unknown).
   */
  async cancelRemote(commandId: string): Promise<boolean> {
    const remoteKey = this.keys.remoteDispense(commandId);
    const txnId = await this.core.redis.hget(remoteKey, 'txnId');
    const txn = txnId === null ? null : await readTransaction(this.core.redis, this.keys, txnId);
    if (!txn) return false;
    const result = await newPlan(this.core)
      .expectEq(remoteKey, 'state', 'queued')
      .expectEq(this.keys.payoutIntent(txn.payoutId), 'state', 'queued')
      .expectEq(this.keys.openTransaction(txn.txnId), 'paid', '0')
      .hset(remoteKey, { state: 'cancelled', coinsDispensed: 0, coinsUnpaid: txn.due, success: 0 })
      .lrem(this.keys.payoutLane, txn.payoutId)
      .del(this.keys.payoutIntent(txn.payoutId))
      .del(this.keys.openTransaction(txn.txnId))
      .commit(this.core.redis);
    if (result === 'ok') this.core.log.warn({ commandId, txnId: txn.txnId, coins: txn.due }, 'remote dispense cancelled: not started before its deadline');
    return result === 'ok';
  }

  /**
   * Starts the next payout if the lane is free and allowed to pay. Returns
   * the intent it sent, or null. Never sends while another payout is out.
   * `headNow`: the lane's head as just read, if the caller has it.
   */
  async pump(gate: LaneGate, headNow?: PayoutIntent | null): Promise<PayoutIntent | null> {
    // The caller's fresh read of the head saves reading it again on the first turn.
    let known = headNow;
    for (;;) {
      const head = known !== undefined ? known : await laneHead(this.core.redis, this.keys);
      known = undefined;
      if (head === null) {
        const lanePayable = await this.headDebt(gate);
        if (!lanePayable) return null;
        continue;
      }
      if (head.state === 'sent') return null;
      if (head.state === 'done') {
        await this.core.redis.lrem(this.keys.payoutLane, 0, head.payoutId);
        continue;
      }
      if (!this.mayPay(gate)) return null;
      if (head.purpose !== 'debt' && (await this.headDebt(gate))) continue;
      const now = this.core.clock.now();
      const marked = await newPlan(this.core)
        .expectEq(this.keys.payoutIntent(head.payoutId), 'state', 'queued')
        .hset(this.keys.payoutIntent(head.payoutId), { state: 'sent', sentAt: now })
        .commit(this.core.redis);
      if (marked !== 'ok') continue;
      await this.core.hardware.payout(head.payoutId, head.coins);
      this.core.log.debug({ payoutId: head.payoutId, coins: head.coins, purpose: head.purpose }, 'payout sent');
      return { ...head, state: 'sent', sentAt: now };
    }
  }

  /** Whether a payout may start: no critical fault but 42, and coins possibly in the hopper. */
  mayPay(gate: LaneGate): boolean {
    if (gate.errors.some((c) => isCritical(c) && c !== 42)) return false;
    return gate.inventory === null || gate.inventory > 0;
  }

  /**
   * Puts a debt payout at the head of the lane when debt is owed and may be
   * paid now. Debt in doubt (an unknown outcome) is never paid until a person
   * says the coins did not leave (docs/commands.md#error-51-coins-in-doubt), and no debt is
   * paid while error 51 is active: then the owed amount itself is in question.
   */
  private async headDebt(gate: LaneGate): Promise<boolean> {
    const payable = gate.debt - gate.doubt;
    if (payable <= 0 || !this.mayPay(gate) || gate.errors.includes(51)) return false;
    const coins = gate.inventory === null ? payable : Math.min(payable, gate.inventory);
    const payoutId = newPayoutId();
    // The exchange that left the debt: its transaction_id goes on the debt payout's transaction.
    const ref = (await this.core.redis.hget(this.keys.machine, 'debtTxn')) ?? '';
    const result = await newPlan(this.core)
      .expectAbsent(this.keys.payoutIntent(payoutId), 'state')
      .hset(this.keys.payoutIntent(payoutId), intentFields({ payoutId, purpose: 'debt', ref, coins, createdAt: this.core.clock.now() }))
      .lpush(this.keys.payoutLane, payoutId)
      .commit(this.core.redis);
    if (result === 'ok') this.core.log.info({ payoutId, coins, debt: gate.debt }, 'debt payout queued');
    return result === 'ok';
  }

  /**
   * Books one attempt of `intent` as having paid `paid` coins and ended as
   * `end`, in one plan (settlement.ts). Guarded by `guardKey` (the reporting
   * event) and by the intent still being `sent`, so it applies once. Null
   * when it did not apply. `level`: the hopper level the report gives after
   * the payout, written in the same plan (under the same guard) instead of
   * counting the coins off, so a re-run of the report never writes it over
   * later payouts.
   */
  settle(intent: PayoutIntent, paid: number, end: AttemptEnd, guardKey: string, level?: number): Promise<Settlement | null> {
    return settleAttempt(this.core, this.faults, { intent, paid, end, guardKey, level });
  }

  /** Marks a re-issue of the same payout id (the hardware never received it). */
  async reissue(intent: PayoutIntent): Promise<void> {
    const attempt = intent.attempt + 1;
    await this.core.redis.hset(this.keys.payoutIntent(intent.payoutId), { attempt, sentAt: this.core.clock.now() });
    await this.core.hardware.payout(intent.payoutId, intent.coins, attempt);
    this.core.log.warn({ payoutId: intent.payoutId, attempt }, 'payout re-issued: the hardware did not know it');
  }

  head(): Promise<PayoutIntent | null> {
    return laneHead(this.core.redis, this.keys);
  }

  intent(payoutId: string): Promise<PayoutIntent | null> {
    return readIntent(this.core.redis, this.keys, payoutId);
  }

  async isEmpty(): Promise<boolean> {
    return (await this.core.redis.llen(this.keys.payoutLane)) === 0;
  }
}
