/**
 * Event ids and stamps shared by the drivers. An event id names one physical
 * fact for ever: the business app applies each id once (docs/architecture.md#invariant-1), so a re-delivery must reuse it and a new fact must not.
 */
import { randomUUID } from 'node:crypto';
import type { HwEvent } from '../../queue/jobs.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event without the fields the driver stamps on it. */
export type EventDraft = DistributiveOmit<HwEvent, 'eventId' | 'at'>;

/** A fresh id for a new fact. Never all digits and never ':' (it becomes part of a BullMQ job id). */
export const newEventId = (): string => `ev-${randomUUID()}`;

/**
 * The one `payout_done` id of a payout: however often the end is reported
 * (a repeated payout command, a restart), it is applied once.
 */
export const payoutDoneEventId = (payoutId: string): string => `payout-done-${payoutId}`;

export function stampEvent(draft: EventDraft, at: number, eventId: string = newEventId()): HwEvent {
  return { ...draft, eventId, at } as HwEvent;
}
