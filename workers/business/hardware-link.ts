/**
 * The business app's side of `hw-commands`: what it asks the hardware app
 * to do. A payout is idempotent by payoutId at the hardware, so sending one
 * twice is harmless; the job id still keeps a repeat off the queue.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { HwCommand } from '../../queue/jobs.js';
import type { CashAmount } from '../../shared/cash.js';

const payoutJobId = (payoutId: string, attempt: number) => `payout-${payoutId}-${attempt}`;

export class HardwareLink {
  constructor(private readonly queue: Queue<HwCommand>) {}

  /** `attempt` > 0 re-issues the same payout id (after a status report showed it never arrived). */
  async payout(payoutId: string, coins: number, attempt = 0): Promise<void> {
    await this.queue.add('payout', { kind: 'payout', payoutId, coins }, { jobId: payoutJobId(payoutId, attempt) });
  }

  /**
   * Whether the command of a payout attempt is still in `hw-commands`, not yet finished by the hardware
   * app: waiting (the app is down or busy) or taken and not done (a job a dead app held stays active until
   * BullMQ's stalled check gives it back). A status report that does not list the payout then proves nothing.
   */
  async payoutQueued(payoutId: string, attempt: number): Promise<boolean> {
    const state = await this.queue.getJobState(payoutJobId(payoutId, attempt));
    return state !== 'completed' && state !== 'failed' && state !== 'unknown';
  }

  /**
   * `inhibit`: denominations refused even when enabled. The hardware app
   * confirms with an `acceptors_set` event. Resolves with the job id.
   */
  async setAcceptors(enabled: boolean, inhibit: readonly CashAmount[] = []): Promise<string> {
    const job = await this.queue.add('set_acceptors', { kind: 'set_acceptors', enabled, inhibit: [...inhibit] });
    return job.id ?? '';
  }

  /** Whether a queued command has not been taken by the hardware app yet (it is down or busy). */
  async waiting(jobId: string): Promise<boolean> {
    const state = await this.queue.getJobState(jobId);
    return state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children';
  }

  async display(text: string): Promise<void> {
    await this.queue.add('display', { kind: 'display', text });
  }

  /** Asks for a `status_report` event carrying the returned request id. */
  async reportStatus(): Promise<string> {
    const requestId = `rs-${randomUUID()}`;
    await this.queue.add('report_status', { kind: 'report_status', requestId });
    return requestId;
  }
}
