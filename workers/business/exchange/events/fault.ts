/** fault_raised / fault_cleared: that error code (41 from a jam, 21 from the bill acceptor…); 51 is cleared by a person's decision. */
import type { EventContext, EventOf } from './context.js';

export async function faultRaised(ev: EventOf<'fault_raised'>, ctx: EventContext): Promise<void> {
  await ctx.faults.raise('error', ev.code, { source: 'hardware', context: ev.context ?? {} });
}

export async function faultCleared(ev: EventOf<'fault_cleared'>, ctx: EventContext): Promise<void> {
  if (ev.code === 51) await ctx.doubt.clearedAtMachine();
  else await ctx.faults.clear('error', ev.code);
}
