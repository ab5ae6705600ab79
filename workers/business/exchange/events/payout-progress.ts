/** payout_progress: news of the payout, nothing durable. */
import type { EventContext, EventOf } from './context.js';

export async function payoutProgress(ev: EventOf<'payout_progress'>, ctx: EventContext): Promise<void> {
  ctx.heard(ev.payoutId);
}
