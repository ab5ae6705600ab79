/** door: alarm 2 while open; closing records the maintenance time. One plan under the event's guard. */
import type { EventContext, EventOf } from './context.js';
import { guarded } from './plans.js';

export async function door(ev: EventOf<'door'>, ctx: EventContext): Promise<void> {
  const { core, faults } = ctx;
  await guarded(core, core.keys.appliedEvent(ev.eventId), async (plan) => {
    plan.hset(core.keys.machine, ev.open ? { doorOpen: 1 } : { doorOpen: 0, lastMaintenanceAt: core.clock.now() });
    if (ev.open) await faults.raiseWith(plan, 'alarm', 2, { source: 'door', level: 'open', context: { door: 'open' } });
    else await faults.clearWith(plan, 'alarm', 2, { level: 'closed', context: { door: 'closed' } });
  });
}
