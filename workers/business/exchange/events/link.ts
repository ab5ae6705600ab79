/** link: down → error 41 (nothing can be paid or accepted); up clears it and asks for the hardware's state. */
import type { EventContext, EventOf } from './context.js';

export async function link(ev: EventOf<'link'>, ctx: EventContext): Promise<void> {
  if (ev.up) {
    await ctx.faults.clear('error', 41, { onlySource: 'link', context: { link: 'up' } });
    await ctx.askStatus();
  } else {
    await ctx.faults.raise('error', 41, { source: 'link', context: { link: 'down', cause: 'hardware link lost' } });
  }
}
