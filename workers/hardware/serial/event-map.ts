/**
 * Board events and status → the normalized hardware events of queue/jobs.ts.
 * Event ids are `board-<boardId>-<board event counter>` (docs/board-link.md
 * §5): the counter is the board's own and survives its restarts; the board
 * id changes if the board ever loses that counter, so ids never repeat. A
 * payout's end is one fact however often the board reports it (a repeated
 * payout command), so it takes the payout's own id (../events.ts).
 */
import { hwEventSchema, type HwEvent } from '../../../queue/jobs.js';
import { payoutDoneEventId } from '../events.js';
import type { BoardEvent, StatusReply } from './messages.js';

export const hwEventId = (boardId: string, counter: number, e: BoardEvent): string =>
  e.kind === 'payout_done' ? payoutDoneEventId(e.payoutId) : `board-${boardId}-${counter}`;

/** Board kinds whose agent kind has another name; every other kind and field is named alike (docs/board-link.md §5). */
const renamed: Partial<Record<BoardEvent['kind'], HwEvent['kind']>> = { bill: 'bill_accepted', coin: 'coin_accepted' };

/** Maps one board event; null when the result does not satisfy the hw-events schema (e.g. a bill of an unknown value). */
export function toHwEvent(eventId: string, at: number, e: BoardEvent): HwEvent | null {
  const unpaid = e.kind === 'payout_done' ? { unpaid: e.requested - e.paid } : {};
  const parsed = hwEventSchema.safeParse({ ...e, ...unpaid, kind: renamed[e.kind] ?? e.kind, eventId, at });
  return parsed.success ? parsed.data : null;
}

export function toStatusReport(eventId: string, at: number, requestId: string, s: StatusReply): HwEvent {
  return {
    eventId,
    at,
    kind: 'status_report',
    requestId,
    inventory: s.inventory,
    doorOpen: s.doorOpen,
    acceptorsEnabled: s.acceptorsEnabled,
    payouts: s.payouts.map((p) => ({ payoutId: p.payoutId, requested: p.requested, paid: p.paid, done: p.state === 'done' })),
  };
}
