/** The hardware-event dispatcher: one handler per event kind (docs/architecture.md#one-handler-per-message-type). */
import type { HwEvent } from '../../../../queue/jobs.js';
import { acceptorsSet } from './acceptors-set.js';
import type { EventContext } from './context.js';
import { credit } from './credit.js';
import { door } from './door.js';
import { faultCleared, faultRaised } from './fault.js';
import { hopperEmpty, hopperLevel } from './hopper.js';
import { link } from './link.js';
import { payoutDone } from './payout-done.js';
import { payoutProgress } from './payout-progress.js';
import { statusReport } from './status-report.js';
import { unmapped } from './unmapped.js';

export type { EventContext } from './context.js';

/**
 * Kinds whose handler needs no `applied` mark from the engine: credits, payout
 * ends, levels and the door carry their guard inside their plan; progress
 * changes nothing durable; acceptors_set is absolute. The rest are marked once done.
 */
export const guardsItself: ReadonlySet<HwEvent['kind']> = new Set<HwEvent['kind']>([
  'bill_accepted',
  'coin_accepted',
  'payout_done',
  'payout_progress',
  'acceptors_set',
  'hopper_level',
  'hopper_empty',
  'door',
]);

export function dispatch(ev: HwEvent, ctx: EventContext): Promise<void> {
  switch (ev.kind) {
    case 'bill_accepted':
    case 'coin_accepted':
      return credit(ev, ctx);
    case 'payout_progress':
      return payoutProgress(ev, ctx);
    case 'payout_done':
      return payoutDone(ev, ctx);
    case 'fault_raised':
      return faultRaised(ev, ctx);
    case 'fault_cleared':
      return faultCleared(ev, ctx);
    case 'door':
      return door(ev, ctx);
    case 'hopper_level':
      return hopperLevel(ev, ctx);
    case 'hopper_empty':
      return hopperEmpty(ev, ctx);
    case 'link':
      return link(ev, ctx);
    case 'status_report':
      return statusReport(ev, ctx);
    case 'unmapped':
      return unmapped(ev, ctx);
    case 'acceptors_set':
      return acceptorsSet(ev, ctx);
    default:
      return assertNever(ev);
  }
}

function assertNever(ev: never): never {
  throw new Error(`unhandled hardware event ${JSON.stringify(ev)}`);
}
