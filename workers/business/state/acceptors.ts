/**
 * What the acceptors should do, derived from the state: on or off, and which
 * denominations they refuse and why. A denomination is refused when the
 * configuration does not accept it (`config`), or when paying for it (its
 * coins plus its bonus plus a margin) would need more coins than the hopper
 * holds after the debt already owed (`coins`): a customer must not insert a
 * 1000 NTD bill into a machine that can pay 5 coins (docs/durability.md).
 */
import { cashAmounts, type CashAmount } from '../../../shared/cash.js';
import type { Inhibited } from '../../../shared/machine-state.js';

export type InhibitedAmount = Inhibited & { amount: CashAmount };

export interface AcceptorState {
  enabled: boolean;
  /** Ascending. */
  inhibit: CashAmount[];
}

export interface CoverInput {
  accepted: readonly number[];
  /** Books inventory; null while the hardware never reported one (then nothing is refused for coins). */
  inventory: number | null;
  debt: number;
  marginCoins: number;
  bonusTable: Readonly<Record<string, number>>;
}

/** Coins one insert of `amount` NTD can cost at most (a carried credit adds less than one coin). */
export const coinsFor = (amount: number, bonusTable: Readonly<Record<string, number>>): number => Math.ceil(amount / 10) + (bonusTable[String(amount)] ?? 0);

export function inhibitedDenominations(c: CoverInput): InhibitedAmount[] {
  const out: InhibitedAmount[] = [];
  const available = c.inventory === null ? Infinity : c.inventory - c.debt;
  for (const amount of cashAmounts) {
    if (!c.accepted.includes(amount)) out.push({ amount, reason: 'config' });
    else if (coinsFor(amount, c.bonusTable) + c.marginCoins > available) out.push({ amount, reason: 'coins' });
  }
  return out;
}

export const sameAcceptors = (a: AcceptorState, b: AcceptorState | null): boolean =>
  b !== null && a.enabled === b.enabled && a.inhibit.join(',') === b.inhibit.join(',');

/** The state the hardware confirmed, as stored in the `machine` hash; null when unknown. */
export function confirmedAcceptors(machine: Record<string, string>): AcceptorState | null {
  if (machine.acceptorsEnabled === undefined || machine.acceptorsInhibit === undefined) return null;
  const inhibit = machine.acceptorsInhibit === '' ? [] : (machine.acceptorsInhibit.split(',').map(Number) as CashAmount[]);
  return { enabled: machine.acceptorsEnabled === '1', inhibit };
}

/** `machine` hash fields of a confirmed state. */
export const confirmedFields = (s: AcceptorState): Record<string, string> => ({
  acceptorsEnabled: s.enabled ? '1' : '0',
  acceptorsInhibit: [...s.inhibit].sort((a, b) => a - b).join(','),
});
