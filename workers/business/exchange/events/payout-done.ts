/** payout_done: the attempt settled (transaction, accounting; 42 follows when the hopper ran dry). */
import { endOf } from '../recovery.js';
import { writeLevel } from '../level.js';
import type { EventContext, EventOf } from './context.js';
import { guarded, lowSensorWith } from './plans.js';

export async function payoutDone(ev: EventOf<'payout_done'>, ctx: EventContext): Promise<void> {
  const { core, lane } = ctx;
  const hopper = ev.hopper;
  const intent = await lane.intent(ev.payoutId);
  const guard = core.keys.appliedEvent(ev.eventId);
  // The level after the payout is absolute: it is written once, in the settlement's plan (or alone) under
  // the event's guard, so a re-run of the event never writes it over coins paid since (docs/durability.md).
  if (intent?.state === 'sent') {
    const level = hopper?.coins ?? (ev.reason === 'hopper_empty' ? 0 : undefined);
    await ctx.settled(await lane.settle(intent, Math.min(ev.paid, intent.coins), endOf(ev.reason, intent.coins - ev.paid), guard, level));
  } else if (hopper) {
    await guarded(core, guard, (plan) => writeLevel(plan, core.keys, hopper.coins));
  }
  if (hopper) await guarded(core, core.keys.appliedEvent(`${ev.eventId}-sensor`), (plan) => lowSensorWith(ctx.faults, plan, hopper.coins, hopper.lowSensor));
}
