/** Plans the event handlers share. */
import { APPLIED_TTL_SECONDS, newPlan, type BusinessDeps } from '../../deps.js';
import type { Faults } from '../../faults/faults.js';
import type { Plan } from '../../store/plan.js';

/**
 * Commits what `add` puts into one plan guarded by `guardKey` (an event's
 * applied key): an absolute write applies once, atomically with its guard,
 * so a re-run never writes it over what happened since (docs/architecture.md).
 * Rebuilt when a code it expected changed under it (the plan was stale).
 */
export async function guarded(core: BusinessDeps, guardKey: string, add: (plan: Plan) => unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const plan = newPlan(core).guard(guardKey, APPLIED_TTL_SECONDS);
    await add(plan);
    if ((await plan.commit(core.redis)) !== 'stale') return;
    if (attempt === 3) throw new Error(`plan guarded by ${guardKey} stale ${attempt} times`);
  }
}

/** Adds error 44 (the hopper's low-level sensor) to `plan`: raised or cleared when it differs. */
export async function lowSensorWith(faults: Faults, plan: Plan, coins: number, lowSensor: boolean): Promise<void> {
  const active = await faults.isActive('error', 44);
  if (lowSensor && !active) await faults.raiseWith(plan, 'error', 44, { source: 'hardware', context: { inventory: coins } });
  else if (!lowSensor && active) await faults.clearWith(plan, 'error', 44, { context: { inventory: coins } });
}
