/** acceptors_set: the acceptors' confirmed state. */
import { confirmedFields } from '../../state/acceptors.js';
import type { EventContext, EventOf } from './context.js';

export async function acceptorsSet(ev: EventOf<'acceptors_set'>, ctx: EventContext): Promise<void> {
  // Absolute: a late, older confirmation only makes the condition send the wanted state again.
  await ctx.core.redis.hset(ctx.core.keys.machine, confirmedFields(ev));
}
