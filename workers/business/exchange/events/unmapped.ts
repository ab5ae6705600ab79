/**
 * A hardware event the agent cannot map: error 8 (a bill), 7 (a coin) or 6
 * (anything else) with the event in its context, which switches the
 * acceptors off until cleared; its cash is counted in `unmapped_ntd`, once
 * (guarded by the event id).
 */
import { APPLIED_TTL_SECONDS, newPlan } from '../../deps.js';
import type { EventContext, EventOf } from './context.js';

export async function unmapped(ev: EventOf<'unmapped'>, ctx: EventContext): Promise<void> {
  const { core } = ctx;
  const code = ev.source === 'bill' ? 8 : ev.source === 'coin' ? 7 : 6;
  core.log.error({ ev }, 'unmapped hardware event: fault raised, acceptors off');
  await ctx.faults.raise('error', code, { source: 'unmapped', context: { event: ev.source, amount: ev.amount ?? null, detail: ev.detail, event_id: ev.eventId } });
  if (ev.amount) {
    await newPlan(core).guard(core.keys.appliedEvent(ev.eventId), APPLIED_TTL_SECONDS).hincr(core.keys.counters, { unmapped_ntd: ev.amount }).commit(core.redis);
  }
}
