/**
 * Finding out what happened to a payout whose end was never heard of (a
 * crash of any process, a lost event, a stuck hopper). A payout is NEVER
 * re-sent blindly (docs/architecture.md#invariant-2): the engine asks the
 * hardware for a `status_report` and decides from what it says about the
 * payout id —
 *
 *  - done: book what it paid; the rest is paid by a new payout id unless
 *    the hopper is empty (then it is debt, error 42);
 *  - still running: wait;
 *  - unknown to the hardware while its command is still in `hw-commands`
 *    (the hardware app was down or busy): the report proves nothing yet, wait;
 *  - its command never added (a crash right after the payout was marked
 *    sent): it never reached the hardware, so the same id is issued, even
 *    by a hardware that lost its state;
 *  - unknown to a hardware that reports its state, or says its payout
 *    records are intact (ccTalk: no inventory, but every payout it took is
 *    recorded): the command never arrived, so the same id is issued again
 *    (the hardware is idempotent);
 *  - the hardware cannot tell (its report has no inventory: it lost its
 *    state): nothing is counted as paid, the rest is debt, error 51, and the
 *    debt waits for a person instead of being guessed.
 */
import type { HwEvent } from '../../../queue/jobs.js';
import type { AttemptEnd } from './settlement.js';
import type { PayoutIntent } from '../state/records.js';
import type { PayoutCommand } from '../hardware-link.js';

export type StatusReport = Extract<HwEvent, { kind: 'status_report' }>;

export type Verdict =
  | { action: 'settle'; paid: number; end: AttemptEnd }
  | { action: 'wait' }
  | { action: 'reissue' };

/** `command`: where the payout's command is (HardwareLink.payoutCommand). */
export function judge(intent: PayoutIntent, report: StatusReport, command: PayoutCommand): Verdict {
  const known = report.payouts.find((p) => p.payoutId === intent.payoutId);
  if (known && !known.done) return { action: 'wait' };
  if (!known && command === 'queued') return { action: 'wait' };
  if (!known && command === 'never-added') return { action: 'reissue' };
  if (known) {
    const paid = Math.min(known.paid, intent.coins);
    if (paid >= intent.coins) return { action: 'settle', paid, end: 'complete' };
    // As from its payout_done: the rest of a payout ended in doubt is never paid again by itself.
    if (known.reason === 'in_doubt') return { action: 'settle', paid, end: 'unknown' };
    return { action: 'settle', paid, end: report.inventory === 0 ? 'short' : 'interrupted' };
  }
  if (report.inventory === null && report.recordsIntact !== true) return { action: 'settle', paid: 0, end: 'unknown' };
  return { action: 'reissue' };
}

/** How a `payout_done` reason ends an attempt for the books. */
export function endOf(reason: Extract<HwEvent, { kind: 'payout_done' }>['reason'], unpaid: number): AttemptEnd {
  if (unpaid <= 0) return 'complete';
  // `unknown`: the hopper stopped without a cause (power loss); what it paid is exact, the rest can still be paid.
  if (reason === 'unknown') return 'interrupted';
  // `in_doubt`: more may have left than reported; paying the rest could pay twice, so a person decides (51).
  return reason === 'in_doubt' ? 'unknown' : 'short';
}

export interface StuckPolicy {
  /** A sent payout with no news for this long (plus `msPerCoin` per coin) is checked. Default 30 s. */
  stuckAfterMs: number;
  /** Default 250 ms: a slow hopper pays about 4 coins a second. */
  msPerCoin: number;
  /** An unanswered report is asked again after this long. Default 15 s. */
  reportTimeoutMs: number;
}

export const defaultStuckPolicy: StuckPolicy = { stuckAfterMs: 30_000, msPerCoin: 250, reportTimeoutMs: 15_000 };

export function isStuck(intent: PayoutIntent, lastNewsAt: number, now: number, p: StuckPolicy): boolean {
  return now - Math.max(intent.sentAt, lastNewsAt) > p.stuckAfterMs + intent.coins * p.msPerCoin;
}
