/**
 * The simulated hopper: payouts as steps over the physical truth, one coin
 * per step. A payout is idempotent by payoutId (a repeat only re-reports),
 * and every coin that leaves is recorded with the payout's `paid` in the
 * same commit, so truth and payout never disagree.
 */
import { formatFaults, parseFaults, type PayoutEndReason, type PhysicalPayout, type PhysicalTruth } from '../../../shared/physical-truth.js';
import { payoutDoneEventId, stampEvent, type EventDraft } from '../events.js';
import type { HwEvent } from '../../../queue/jobs.js';
import type { Change, Snapshot } from './truth-store.js';
import { hopperLevel, hopperReading, type Outcome, type Stamp } from './actions.js';

type HopperReading = ReturnType<typeof hopperReading>;

/** The hopper fault (docs/protocol.md#error-codes: 41 退幣器故障): raised by a jam; while active the hopper pays nothing. */
export const HOPPER_FAULT = 41;

export interface HopperSettings {
  /** The low-level sensor trips below this many coins. */
  lowLevel: number;
  /** A `payout_progress` every this many coins. */
  progressEvery: number;
  /** An armed jam stops the next payout after this many coins (fewer if it asks for fewer). */
  jamAfterCoins: number;
}

function doneEvent(p: PhysicalPayout, paid: number, reason: PayoutEndReason, at: number, hopper?: HopperReading): HwEvent {
  return stampEvent(
    { kind: 'payout_done', payoutId: p.payoutId, requested: p.requested, paid, unpaid: p.requested - paid, reason, ...(hopper && { hopper }) },
    at,
    payoutDoneEventId(p.payoutId),
  );
}

/**
 * What the hopper says about a payout it already knows: its end, or how far it
 * got. A re-reported end carries no hopper level: it has the id of the first
 * report, which the business app has applied (level included) or will apply.
 */
function report(p: PhysicalPayout, stamp: Stamp): HwEvent {
  if (p.done && p.reason) return doneEvent(p, p.paid, p.reason, p.endedAt ?? p.acceptedAt);
  return stamp({ kind: 'payout_progress', payoutId: p.payoutId, requested: p.requested, paid: p.paid });
}

/**
 * Accepts a payout command. `queued` only for a payoutId never seen; a known
 * one pays nothing more and is re-reported. With a power cut armed the
 * payout is `lost` at once: its coins leave (all or none), the board forgets
 * it and its count and reports nothing; the physical record stays, so a
 * repeat of the command pays nothing either.
 */
export function acceptPayout(s: Snapshot, payoutId: string, coins: number, now: number, stamp: Stamp): Outcome<'queued' | 'known' | 'lost'> {
  const known = s.payouts.get(payoutId);
  if (known?.lost) return { result: 'lost' };
  if (known) return { change: { events: [report(known, stamp)] }, result: 'known' };
  const t = s.truth;
  if (t.powerCut) {
    const paid = t.powerCut === 'paid' ? Math.min(coins, t.inventory) : 0;
    return {
      change: {
        truth: { inventory: t.inventory - paid, dispensed: t.dispensed + paid, powerCut: '', countLost: 1 },
        payout: { payoutId, fields: { requested: coins, paid, done: 1, reason: 'unknown', acceptedAt: now, endedAt: now, lost: 1 }, acceptedAt: now, open: false },
      },
      result: 'lost',
    };
  }
  return {
    change: { payout: { payoutId, fields: { requested: coins, paid: 0, done: 0, acceptedAt: now }, acceptedAt: now, open: true } },
    result: 'queued',
  };
}

function end(
  t: PhysicalTruth,
  p: PhysicalPayout,
  paid: number,
  reason: PayoutEndReason,
  now: number,
  settings: HopperSettings,
  before: Change = {},
): Outcome<'ended'> {
  const inventory = Number(before.truth?.inventory ?? t.inventory);
  return {
    change: {
      truth: before.truth,
      payout: { payoutId: p.payoutId, fields: { paid, done: 1, reason, endedAt: now }, open: false },
      // The level rides on the end instead of a separate hopper_level (one hw-events job less per payout).
      events: [...(before.events ?? []), doneEvent(p, paid, reason, now, hopperReading(inventory, settings.lowLevel))],
    },
    result: 'ended',
  };
}

/** One coin, or the end of the payout. */
export function payoutStep(s: Snapshot, payoutId: string, now: number, settings: HopperSettings, stamp: Stamp): Outcome<'paid' | 'ended'> {
  const t = s.truth;
  const p = s.payouts.get(payoutId);
  if (!p || p.done) return { result: 'ended' };
  if (t.activeFaults.includes(HOPPER_FAULT)) return end(t, p, p.paid, 'fault', now, settings);
  if (t.inventory <= 0) return end(t, p, p.paid, 'hopper_empty', now, settings);
  if (t.jamArmed && p.paid >= Math.min(settings.jamAfterCoins, p.requested - 1)) {
    return end(t, p, p.paid, 'jam', now, settings, {
      truth: { jamArmed: 0, faults: formatFaults([...t.activeFaults, HOPPER_FAULT]) },
      events: [stamp({ kind: 'fault_raised', code: HOPPER_FAULT, context: { source: 'simulator', cause: 'jam', payoutId } })],
    });
  }
  const inventory = t.inventory - 1;
  const paid = p.paid + 1;
  const truth = { inventory, dispensed: t.dispensed + 1 };
  const sensor: EventDraft[] = [];
  if (inventory === 0) sensor.push({ kind: 'hopper_empty' });
  if (paid === p.requested) return end(t, p, paid, 'complete', now, settings, { truth, events: sensor.map(stamp) });
  if (inventory === 0) return end(t, p, paid, 'hopper_empty', now, settings, { truth, events: sensor.map(stamp) });
  if (inventory < settings.lowLevel && t.inventory >= settings.lowLevel) sensor.push(hopperLevel(inventory, settings.lowLevel));
  if (paid % settings.progressEvery === 0) sensor.push({ kind: 'payout_progress', payoutId, requested: p.requested, paid });
  return { change: { truth, payout: { payoutId, fields: { paid } }, events: sensor.map(stamp) }, result: 'paid' };
}

/** The truth after a coin step; only the fields `payoutStep` writes. */
function afterStep(t: PhysicalTruth, c: Change['truth'] = {}): PhysicalTruth {
  return {
    ...t,
    inventory: Number(c.inventory ?? t.inventory),
    dispensed: Number(c.dispensed ?? t.dispensed),
    jamArmed: c.jamArmed === undefined ? t.jamArmed : Number(c.jamArmed) === 1,
    activeFaults: c.faults === undefined ? t.activeFaults : parseFaults(String(c.faults)),
  };
}

/**
 * A hopper that takes no time per coin (COINEREX_SIM_PAYOUT_MS=0): the whole
 * payout, or what the inventory allows, as ONE change, so truth and events
 * commit in one step and a crash leaves either nothing or all of it. It
 * replays `payoutStep` coin by coin in memory, so the coins, the end reason
 * and the events are exactly those of the timed hopper.
 */
export function payoutAll(s: Snapshot, payoutId: string, now: number, settings: HopperSettings, stamp: Stamp): Outcome<'ended'> {
  let truth = s.truth;
  let payout = s.payouts.get(payoutId);
  const events: HwEvent[] = [];
  const change: Change = { events };
  let changed = false;
  for (;;) {
    const step = payoutStep({ ...s, truth, payouts: new Map([[payoutId, payout ?? null]]) }, payoutId, now, settings, stamp);
    const c = step.change;
    if (c?.truth) change.truth = { ...change.truth, ...c.truth };
    if (c?.payout) change.payout = { ...change.payout, ...c.payout, fields: { ...change.payout?.fields, ...c.payout.fields } };
    if (c?.events) events.push(...c.events);
    changed ||= c !== undefined;
    if (step.result === 'ended' || !payout) return { change: changed ? change : undefined, result: 'ended' };
    truth = afterStep(truth, c?.truth);
    payout = { ...payout, paid: Number(c?.payout?.fields.paid ?? payout.paid) };
  }
}

/**
 * A payout command to a hopper that takes no time per coin: the acceptance
 * and the whole payout as ONE change, one commit instead of two. A crash
 * leaves either nothing (the command runs again) or the ended payout.
 */
export function acceptAndPayAll(s: Snapshot, payoutId: string, coins: number, now: number, settings: HopperSettings, stamp: Stamp): Outcome<'paid' | 'known' | 'lost'> {
  const accepted = acceptPayout(s, payoutId, coins, now, stamp);
  const acceptance = accepted.change?.payout;
  if (accepted.result !== 'queued' || !acceptance) return { change: accepted.change, result: accepted.result === 'lost' ? 'lost' : 'known' };
  const running: PhysicalPayout = { payoutId, requested: coins, paid: 0, done: false, reason: null, acceptedAt: now, endedAt: null, lost: false };
  const { change = {} } = payoutAll({ ...s, payouts: new Map([[payoutId, running]]) }, payoutId, now, settings, stamp);
  const payout = { ...acceptance, ...change.payout, fields: { ...acceptance.fields, ...change.payout?.fields }, acceptedAt: now };
  return { change: { truth: change.truth, payout, events: change.events }, result: 'paid' };
}

/**
 * A payout left unfinished by a crash or power loss is not resumed (a real
 * hopper stops when the power goes): it ends with what was paid, reason
 * `unknown`, and the business app pays the remainder.
 */
export function stopUnfinished(s: Snapshot, payoutId: string, now: number, settings: HopperSettings): Outcome<'stopped' | 'gone'> {
  const p = s.payouts.get(payoutId);
  if (!p || p.done) return { change: { payout: { payoutId, fields: {}, open: false } }, result: 'gone' };
  const { change } = end(s.truth, p, p.paid, 'unknown', now, settings);
  return { change, result: 'stopped' };
}

/** A board that lost its count reports no inventory (null), and nothing of a payout it lost. */
export function statusReport(s: Snapshot, requestId: string, payoutIds: readonly string[], stamp: Stamp): Outcome<void> {
  const payouts = payoutIds
    .map((id) => s.payouts.get(id))
    .filter((p): p is PhysicalPayout => !!p && !p.lost)
    .map(({ payoutId, requested, paid, done, reason }) => ({ payoutId, requested, paid, done, ...(done && reason ? { reason } : {}) }));
  const event = stamp({
    kind: 'status_report',
    requestId,
    inventory: s.truth.countLost ? null : s.truth.inventory,
    doorOpen: s.truth.doorOpen,
    acceptorsEnabled: s.truth.acceptorsEnabled,
    payouts,
  });
  return { change: { events: [event] }, result: undefined };
}
