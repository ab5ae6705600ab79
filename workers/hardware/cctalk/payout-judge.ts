/**
 * What a hopper status (166) says about the dispense (167) in hand
 * (docs/cctalk.md "Payouts"). A dispense is sent again only when the status
 * proves the hopper never took it: it never ACKed, its last-payout counts
 * did not change, and either its event counter did not move with no reset
 * that can have hidden a move, or, after a reset, the unchanged counts are
 * no outcome of this dispense. Anything else is settled from the hopper's
 * own paid count, or, when even that cannot be told, left to a person
 * ('unknown'): never a blind resend. Pure.
 */
import type { HopperStatus } from '../../../shared/cctalk/headers.js';
import type { Segment } from './store.js';

export type Verdict =
  /** The hopper never took the dispense: sending it is safe. */
  | { kind: 'send' }
  /** Paying: `paid` coins of this dispense so far. */
  | { kind: 'paying'; paid: number }
  /** The dispense ended with `paid` coins; `reset`: it was cut by a reset (power), not stopped by the hopper. */
  | { kind: 'settled'; paid: number; reset: boolean; overpaid: number }
  /** Cannot be told whether or how much the hopper paid. */
  | { kind: 'unknown' };

/**
 * @param continuous the hopper answered every poll since this process recorded the segment
 *        (without it, a counter that reads 0 again may hide a reset).
 */
export function judgeSegment(seg: Segment, st: HopperStatus, continuous: boolean): Verdict {
  const reset = st.counter === 0 && (seg.acked || seg.counterBefore !== 0 || !continuous);
  const countsMoved = st.paid !== seg.paidBefore || st.unpaid !== seg.unpaidBefore;
  const received = seg.acked || (!reset && st.counter !== seg.counterBefore) || countsMoved;
  // After a reset: the hopper keeps the last dispense's counts across a power loss (the same fact `settled` relies
  // on), and a dispense it took ends with paid + unpaid = its coins (a cut moves what remains to unpaid). Counts
  // unchanged that cannot add up to this dispense prove it never arrived; counts that can may be this one, paid in full.
  if (!received) return reset && seg.paidBefore + seg.unpaidBefore === seg.coins ? { kind: 'unknown' } : { kind: 'send' };
  if (!reset && st.remaining > 0) return { kind: 'paying', paid: Math.min(st.paid, seg.coins) };
  // ACKed, yet counts unchanged across a reset: the hopper did not save this dispense's counts at all.
  if (reset && !countsMoved) return { kind: 'unknown' };
  return { kind: 'settled', paid: Math.min(st.paid, seg.coins), reset, overpaid: Math.max(0, st.paid - seg.coins) };
}
