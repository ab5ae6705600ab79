/**
 * Settling one payout attempt (docs/architecture.md#invariant-2): whatever
 * its purpose, the attempt is booked in ONE plan — the intent done, the coins
 * counted, the level, the debt, the transaction and its message — so a crash
 * leaves either all of it or none (docs/durability.md). The common part is
 * built first; each purpose (exchange, remote dispense, debt) adds its own
 * writes to the same plan, and the plan is committed once.
 */
import {
  APPLIED_TTL_SECONDS,
  DAILY_TTL_SECONDS,
  DONE_INTENT_TTL_SECONDS,
  newPlan,
  today,
  type BusinessDeps,
} from '../deps.js';
import type { Faults } from '../faults/faults.js';
import { intentFields, newPayoutId, readTransaction, type OpenTransaction, type PayoutIntent } from '../state/records.js';
import type { Plan } from '../store/plan.js';
import { debtPayoutData, transactionData } from './transaction-message.js';
import { writeLevel } from './level.js';

/** How an attempt ended, as far as the books are concerned. */
export type AttemptEnd =
  /** Everything asked was paid. */
  | 'complete'
  /** Cut short for good (hopper empty, jam, fault): the rest becomes debt (exchange) or a shortfall (remote). */
  | 'short'
  /** Stopped without a cause that keeps coins from being paid (power loss): the rest is paid by a new attempt. */
  | 'interrupted'
  /** The hardware cannot tell what was paid: nothing counted as paid, the rest is debt, error 51. */
  | 'unknown';

export interface Settlement {
  intent: PayoutIntent;
  paid: number;
  end: AttemptEnd;
  /** Set when the settlement finished a transaction. */
  finished?: { txn: OpenTransaction; paid: number; unpaid: number };
  /** Coins still owed after the settlement. */
  debtAfter: number;
}

/** One attempt to settle, as reported. */
export interface AttemptReport {
  intent: PayoutIntent;
  paid: number;
  end: AttemptEnd;
  /** The reporting event's applied key. */
  guardKey: string;
  /** The hopper level after the payout, when the report gives it. */
  level?: number;
}

/** The common write plan of a settlement and what was read to build it. */
interface Booking extends AttemptReport {
  core: BusinessDeps;
  plan: Plan;
  now: number;
  daily: string;
  counters: Record<string, string>;
  debtBefore: number;
  /** The books' inventory before the payout (null: never reported). */
  inventory: string | null;
}

/** What a purpose's writes leave for the settlement's result. */
type Booked = Pick<Settlement, 'debtAfter' | 'finished'>;

/**
 * Books `report` in one plan, guarded by its event and by the intent still
 * being `sent`, so it applies once. Null when it did not apply.
 */
export async function settleAttempt(core: BusinessDeps, faults: Faults, report: AttemptReport): Promise<Settlement | null> {
  const booking = await commonBooking(core, report);
  const purpose = report.intent.purpose;
  const booked = purpose === 'debt' ? await bookDebtPayout(booking) : purpose === 'remote' ? await bookRemoteDispense(booking) : await bookExchangePayout(booking);
  return commitBooking(booking, faults, booked);
}

/** The writes every settlement makes: the intent done and off the lane, the coins counted, the level. */
async function commonBooking(core: BusinessDeps, report: AttemptReport): Promise<Booking> {
  const { intent, paid, end, guardKey, level } = report;
  const keys = core.keys;
  const now = core.clock.now();
  const counters = await core.redis.hgetall(keys.counters);
  const daily = keys.daily(today(core, now));
  const intentKey = keys.payoutIntent(intent.payoutId);
  const plan = newPlan(core)
    .guard(guardKey, APPLIED_TTL_SECONDS)
    .expectEq(intentKey, 'state', 'sent')
    .hset(intentKey, { state: 'done', paid, end, doneAt: now })
    .expire(intentKey, DONE_INTENT_TTL_SECONDS)
    .lrem(keys.payoutLane, intent.payoutId)
    .hincr(keys.counters, { total_dispensed: paid })
    .hincr(daily, { coins_dispensed: paid })
    .expire(daily, DAILY_TTL_SECONDS);
  // The books' inventory exists once the hardware reported a level; until then it stays unknown.
  const inventory = await core.redis.hget(keys.machine, 'inventory');
  if (level !== undefined) writeLevel(plan, keys, level);
  else if (inventory !== null) plan.hincr(keys.machine, { inventory: -paid }).floor0(keys.machine, 'inventory');
  return { ...report, core, plan, now, daily, counters, debtBefore: Number(counters.debt_coins ?? 0), inventory };
}

/** A debt payout: what was paid is off the debt, announced as a `debt_payout` transaction. */
async function bookDebtPayout(b: Booking): Promise<Booked> {
  const { core, plan, intent, paid } = b;
  const keys = core.keys;
  // An unknown outcome leaves the whole attempt owed; otherwise what was paid is off the debt.
  plan.hincr(keys.counters, { debt_coins: -paid }).floor0(keys.counters, 'debt_coins');
  const debtAfter = Math.max(0, b.debtBefore - paid);
  if (paid > 0 && intent.ref) {
    const balance = Number(b.counters.balance ?? 0);
    const data = debtPayoutData({ originTxnId: intent.ref, paid, startAt: intent.createdAt, doneAt: b.now, balance, debtAfter }, core.config.timestampFormat);
    plan.emit(await core.publisher.envelope('transaction', data));
  }
  return { debtAfter };
}

/** An exchange's payout: unpaid coins become debt, the bonus counts what was paid of it. */
function bookExchangePayout(b: Booking): Promise<Booked> {
  return bookTransaction(b, (txn, unpaid) => {
    const keys = b.core.keys;
    // Unpaid coins come off the bonus first: bonus_coins counts bonus coins actually paid.
    const bonusPaid = Math.max(0, txn.bonus - unpaid);
    b.plan.hincr(keys.counters, { debt_coins: unpaid, bonus_coins: bonusPaid }).hincr(b.daily, { exchanges: 1, bonus_coins: bonusPaid, debt_coins: unpaid });
    if (unpaid > 0) b.plan.hset(keys.machine, { debtTxn: txn.txnId });
    return b.debtBefore + unpaid;
  });
}

/** A remote dispense: counted apart; a shortfall is no debt, the command's record gets the outcome. */
function bookRemoteDispense(b: Booking): Promise<Booked> {
  const keys = b.core.keys;
  b.plan.hincr(keys.counters, { remote_dispensed: b.paid }).hincr(b.daily, { remote_dispensed: b.paid });
  return bookTransaction(b, (txn, unpaid, totalPaid) => {
    const inventoryAfter = b.level ?? Math.max(0, Number(b.inventory ?? 0) - b.paid);
    b.plan.hset(keys.remoteDispense(txn.commandId), {
      state: 'done',
      coinsDispensed: totalPaid,
      coinsUnpaid: unpaid,
      coinsRemaining: inventoryAfter,
      executionTimeMs: Math.max(0, b.now - txn.startAt),
      success: unpaid === 0 ? 1 : 0,
    });
    return b.debtBefore;
  });
}

/**
 * The transaction behind an exchange or remote payout: an interrupted attempt
 * queues the rest as a new payout; otherwise the transaction is finished —
 * its message journaled, the open record gone — and `finish` adds the
 * purpose's own writes, returning the debt after.
 */
async function bookTransaction(b: Booking, finish: (txn: OpenTransaction, unpaid: number, totalPaid: number) => number): Promise<Booked> {
  const { core, plan, intent, paid, now } = b;
  const keys = core.keys;
  const rest = intent.coins - paid;
  const txn = await readTransaction(core.redis, keys, intent.ref);
  if (!txn) {
    // Cannot happen with atomic plans; the coins are still counted and the lane is not blocked.
    core.log.error({ payoutId: intent.payoutId, txnId: intent.ref }, 'payout intent without its transaction');
    return { debtAfter: b.debtBefore };
  }
  if (b.end === 'interrupted' && rest > 0) {
    const next = newPayoutId();
    plan
      .hincr(keys.openTransaction(txn.txnId), { paid })
      .hset(keys.openTransaction(txn.txnId), { payoutId: next })
      .hset(keys.payoutIntent(next), intentFields({ payoutId: next, purpose: intent.purpose, ref: txn.txnId, coins: rest, createdAt: now }))
      .lpush(keys.payoutLane, next);
    core.log.warn({ payoutId: intent.payoutId, paid, rest, next }, 'payout interrupted; the rest goes out as a new payout');
    return { debtAfter: b.debtBefore };
  }
  const totalPaid = txn.paid + paid;
  const unpaid = Math.max(0, txn.due - totalPaid);
  const balance = Number(b.counters.balance ?? 0);
  const data = transactionData(txn, { paid: totalPaid, doneAt: now, balance }, core.config.timestampFormat);
  const envelope = await core.publisher.envelope('transaction', data);
  plan
    .emit(envelope, { entryKey: keys.journalEntry(txn.txnId), indexKey: keys.journal, member: txn.txnId, at: now })
    .del(keys.openTransaction(txn.txnId))
    .hset(keys.machine, { lastTransactionAt: now })
    .hincr(b.daily, { transactions: 1 });
  const debtAfter = finish(txn, unpaid, totalPaid);
  return { debtAfter, finished: { txn, paid: totalPaid, unpaid } };
}

/** Error 51 for an unknown outcome, then the one commit of the whole settlement. */
async function commitBooking(b: Booking, faults: Faults, booked: Booked): Promise<Settlement | null> {
  const { core, plan, intent, paid, end } = b;
  if (end === 'unknown') await holdInDoubt(b, faults, booked.debtAfter);
  const result = await plan.commit(core.redis);
  if (result !== 'ok') return null;
  core.metrics.incr('business_coins_paid_total', { purpose: intent.purpose }, paid);
  const finished = booked.finished;
  // The one info line of an exchange (credit and send are at debug): each line costs PM2 CPU and SD-card writes.
  core.log.info({ payoutId: intent.payoutId, purpose: intent.purpose, paid, end, txnId: finished?.txn.txnId, amount: finished?.txn.amount }, 'payout settled');
  const settled: Settlement = { intent, paid, end, debtAfter: booked.debtAfter };
  if (finished) settled.finished = finished;
  return settled;
}

/**
 * An unknown outcome, in the settlement's own write: the coins of this
 * attempt that became debt are held as debt in doubt, and error 51 is
 * raised. A crash can therefore never leave that debt payable without 51
 * (a second payout of coins that may have left the hopper).
 */
async function holdInDoubt(b: Booking, faults: Faults, debtAfter: number): Promise<void> {
  const { core, plan, intent, paid } = b;
  // A remote shortfall is no debt (nobody is owed it); only the 51 tells a person to check the hopper.
  const inDoubt = intent.purpose === 'remote' ? 0 : intent.coins - paid;
  if (inDoubt > 0) plan.hincr(core.keys.debtDoubt, { coins: inDoubt, unseen: inDoubt }).hset(core.keys.debtDoubt, { acknowledged: 0 });
  await faults.raiseWith(plan, 'error', 51, {
    source: 'engine',
    context: { payout_id: intent.payoutId, transaction_id: intent.ref || null, coins_in_doubt: intent.coins - paid, debt_coins: debtAfter },
  });
}
