/** What a hardware-event handler works with: the engine's parts and the engine steps the handlers share. */
import type { HwEvent } from '../../../../queue/jobs.js';
import type { BusinessDeps } from '../../deps.js';
import type { Faults } from '../../faults/faults.js';
import type { DebtDoubt } from '../doubt.js';
import type { PayoutLane } from '../payout-lane.js';
import type { Settlement } from '../settlement.js';

export type EventOf<K extends HwEvent['kind']> = Extract<HwEvent, { kind: K }>;

export interface EventContext {
  core: BusinessDeps;
  faults: Faults;
  lane: PayoutLane;
  doubt: DebtDoubt;
  /** News of a payout now: the stuck check counts from it. */
  heard(payoutId: string): void;
  /** Hands a settlement to the change's follow-up, its transaction drained first; null (not applied) is ignored. */
  settled(s: Settlement | null): Promise<void>;
  /** Asks the hardware for a status report. */
  askStatus(): Promise<void>;
  /** When the open status question was asked, taken, if `requestId` answers it; null otherwise. */
  answered(requestId: string): number | null;
}
