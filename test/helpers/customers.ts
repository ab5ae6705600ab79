/**
 * Simulated customers for end-to-end tests that restart or kill apps: every
 * denomination in turn, queued on the simulator's control queue as
 * `coinerex sim` queues them, and retried while the hardware app is down.
 */
import type { Queue } from 'bullmq';
import type { ControlJob } from '../../queue/index.js';

const cashMix: readonly ControlJob[] = [
  { action: 'bill', amount: 100 },
  { action: 'coin', amount: 50 },
  { action: 'bill', amount: 500 },
  { action: 'bill', amount: 1000 },
];

/** Queues customer number `n` (0-based). */
export function queueCustomer(control: Queue<ControlJob>, n: number): Promise<unknown> {
  return control.add('cash', cashMix[n % cashMix.length]!, { attempts: 20, backoff: { type: 'fixed', delay: 500 } });
}
