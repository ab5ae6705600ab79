/**
 * hopper_level: inventory and 44 (low-level sensor) in one plan under the
 * event's guard (alarm 1 follows from the level); hopper_empty: inventory 0
 * (42 follows once no payout is in flight).
 */
import type { EventContext, EventOf } from './context.js';
import { guarded, lowSensorWith } from './plans.js';
import { writeLevel } from '../level.js';

export async function hopperLevel(ev: EventOf<'hopper_level'>, ctx: EventContext): Promise<void> {
  const { core } = ctx;
  await guarded(core, core.keys.appliedEvent(ev.eventId), (plan) => lowSensorWith(ctx.faults, writeLevel(plan, core.keys, ev.coins), ev.coins, ev.lowSensor));
}

export async function hopperEmpty(ev: EventOf<'hopper_empty'>, ctx: EventContext): Promise<void> {
  const { core } = ctx;
  await guarded(core, core.keys.appliedEvent(ev.eventId), (plan) => writeLevel(plan, core.keys, 0));
}
