/**
 * Coin and bill types → NTD, and which of them the agent can credit today.
 * The one place that decides it: a value the hw-events schema does not take
 * yet is kept from the customer (its type stays inhibited; a bill that still
 * reaches escrow is handed back) instead of being dropped silently. It asks
 * the schema itself, so widening `hwEventSchema` widens this too.
 */
import { hwEventSchema } from '../../../queue/jobs.js';

export type CashKind = 'coin' | 'bill';

/** Default coin types 1–4 and bill types 1–5 (docs/cctalk.md "Configuration"). */
export const DEFAULT_COIN_VALUES = [1, 5, 10, 50] as const;
export const DEFAULT_BILL_VALUES = [100, 200, 500, 1000, 2000] as const;

/** True when an accepted coin or bill of `amount` NTD can become an hw-event. */
export function creditable(kind: CashKind, amount: number): boolean {
  const probe = { eventId: 'probe', at: 0, kind: kind === 'coin' ? 'coin_accepted' : 'bill_accepted', amount };
  return hwEventSchema.safeParse(probe).success;
}

/**
 * The value of type `type` (1-based) in a configured list; 0 in the list or
 * beyond it: an unknown type.
 */
export const valueOfType = (values: readonly number[], type: number): number | undefined => {
  const v = values[type - 1];
  return v ? v : undefined;
};

/**
 * The 16-bit inhibit mask of 231: bit n-1 set enables type n. Only creditable
 * types whose value the business app has not inhibited are enabled.
 */
export function inhibitMask(kind: CashKind, values: readonly number[], inhibited: readonly number[] = []): [number, number] {
  let mask = 0;
  values.forEach((v, i) => {
    if (v > 0 && i < 16 && creditable(kind, v) && !inhibited.includes(v)) mask |= 1 << i;
  });
  return [mask & 0xff, mask >> 8];
}
