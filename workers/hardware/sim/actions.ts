/**
 * What people do to the simulated machine (a customer inserting cash, an
 * operator opening the door or refilling) and the simple commands, as steps
 * over the physical truth: each returns the change to commit and its events.
 */
import { formatFaults, type PhysicalTruth } from '../../../shared/physical-truth.js';
import type { EventDraft } from '../events.js';
import type { HwEvent } from '../../../queue/jobs.js';
import type { CashAmount } from '../../../shared/cash.js';
import type { Snapshot, Change } from './truth-store.js';

export type Stamp = (draft: EventDraft) => HwEvent;
export type Cash = CashAmount;
export type Outcome<R> = { change?: Change; result: R };

/** What the inventory count and the low-level sensor say. */
export function hopperReading(inventory: number, lowLevel: number): { coins: number; lowSensor: boolean } {
  return { coins: inventory, lowSensor: inventory < lowLevel };
}

export function hopperLevel(inventory: number, lowLevel: number): EventDraft {
  return { kind: 'hopper_level', ...hopperReading(inventory, lowLevel) };
}

/** First start on this Redis: an empty cash box and `inventory` coins in the hopper. */
export function initialize(s: Snapshot, inventory: number, now: number): Outcome<boolean> {
  if (s.truth.initialized) return { result: false };
  return {
    change: {
      truth: {
        initializedAt: now,
        inventory,
        initialInventory: inventory,
        refilled: 0,
        dispensed: 0,
        bills100: 0,
        bills500: 0,
        bills1000: 0,
        coins50: 0,
        doorOpen: 0,
        acceptorsEnabled: 1,
        faults: '',
        jamArmed: 0,
      },
    },
    result: true,
  };
}

/**
 * A bill stacked or a coin dropped in the cash box, unless the acceptors are
 * disabled or this denomination is inhibited (then it is handed back).
 */
export function insertCash(t: PhysicalTruth, amount: Cash, stamp: Stamp, stray = false): Outcome<'accepted' | 'refused'> {
  if (!stray && (!t.acceptorsEnabled || t.inhibit.includes(amount))) return { result: 'refused' };
  return { change: stackCash(t, amount, stamp), result: 'accepted' };
}

/** The cash box gains one `amount` piece and the event says so (also what an acceptor that ignores its inhibit does). */
export function stackCash(t: PhysicalTruth, amount: Cash, stamp: Stamp): Change {
  if (amount === 1 || amount === 5 || amount === 10 || amount === 50) {
    return { truth: { [`coins${amount}`]: t.coins[amount] + 1 }, events: [stamp({ kind: 'coin_accepted', amount })] };
  }
  return { truth: { [`bills${amount}`]: t.bills[amount] + 1 }, events: [stamp({ kind: 'bill_accepted', amount })] };
}

export function setDoor(t: PhysicalTruth, open: boolean, stamp: Stamp): Outcome<'door_opened' | 'door_closed'> {
  return { change: { truth: { doorOpen: open ? 1 : 0 }, events: [stamp({ kind: 'door', open })] }, result: open ? 'door_opened' : 'door_closed' };
}

/** Reported every time, active or not: the business app keeps the code table. */
export function raiseFault(t: PhysicalTruth, code: number, stamp: Stamp, context: Record<string, unknown> = { source: 'simulator' }): Outcome<'fault_raised'> {
  return {
    change: { truth: { faults: formatFaults([...t.activeFaults, code]) }, events: [stamp({ kind: 'fault_raised', code, context })] },
    result: 'fault_raised',
  };
}

export function clearFault(t: PhysicalTruth, code: number, stamp: Stamp): Outcome<'fault_cleared'> {
  return {
    change: { truth: { faults: formatFaults(t.activeFaults.filter((c) => c !== code)) }, events: [stamp({ kind: 'fault_cleared', code })] },
    result: 'fault_cleared',
  };
}

export function refill(t: PhysicalTruth, coins: number, lowLevel: number, stamp: Stamp): Outcome<'refilled'> {
  const inventory = t.inventory + coins;
  // Whoever refills counts the hopper: a lost count is known again.
  return {
    change: { truth: { inventory, refilled: t.refilled + coins, countLost: 0 }, events: [stamp(hopperLevel(inventory, lowLevel))] },
    result: 'refilled',
  };
}

export function armJam(): Outcome<'jam_armed'> {
  return { change: { truth: { jamArmed: 1 } }, result: 'jam_armed' };
}

export function armPowerCut(paid: boolean): Outcome<'power_cut_armed'> {
  return { change: { truth: { powerCut: paid ? 'paid' : 'none' } }, result: 'power_cut_armed' };
}

export function setAcceptors(enabled: boolean, inhibit: readonly number[]): Outcome<void> {
  return { change: { truth: { acceptorsEnabled: enabled ? 1 : 0, inhibit: formatFaults(inhibit) } }, result: undefined };
}

export function setDisplay(text: string): Outcome<void> {
  return { change: { truth: { display: text } }, result: undefined };
}
