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
import type { BoardEvent, StatusReply } from '../../../shared/board-link/messages.js';

export const hwEventId = (boardId: string, counter: number, e: BoardEvent): string =>
  e.kind === 'payout_done' ? payoutDoneEventId(e.payoutId) : `board-${boardId}-${counter}`;

/** Board kinds whose agent kind has another name; every other kind and field is named alike (docs/board-link.md §5). */
const renamed: Partial<Record<BoardEvent['kind'], HwEvent['kind']>> = { bill: 'bill_accepted', coin: 'coin_accepted' };

/**
 * Maps one board event. One that does not satisfy the hw-events schema (a
 * bill or coin of a value that is not NTD, a malformed payout report)
 * becomes an `unmapped` event carrying its cash, if any: the business app
 * records it as a fault and counts the cash, and the board gets its ACK.
 */
export function toHwEvent(eventId: string, at: number, e: BoardEvent): HwEvent {
  const unpaid = e.kind === 'payout_done' ? { unpaid: e.requested - e.paid } : {};
  const parsed = hwEventSchema.safeParse({ ...e, ...unpaid, kind: renamed[e.kind] ?? e.kind, eventId, at });
  if (parsed.success) return parsed.data;
  const cash = e.kind === 'bill' || e.kind === 'coin' ? { amount: e.amount } : {};
  return { eventId, at, kind: 'unmapped', source: e.kind, ...cash, detail: JSON.stringify(e).slice(0, 1000) };
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
    payouts: s.payouts.map((p) => ({ payoutId: p.payoutId, requested: p.requested, paid: p.paid, done: p.state === 'done', ...(p.state === 'done' && p.reason ? { reason: p.reason } : {}) })),
  };
}
