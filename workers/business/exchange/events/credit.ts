/** bill_accepted / coin_accepted: counted, transaction opened, payout queued (one plan, guarded inside the lane). */
import type { EventContext, EventOf } from './context.js';

export async function credit(ev: EventOf<'bill_accepted' | 'coin_accepted'>, ctx: EventContext): Promise<void> {
  await ctx.lane.credit(ev);
}
