/**
 * The business app's side of `hw-commands`: what it asks the hardware app
 * to do. A payout is idempotent by payoutId at the hardware, so sending one
 * twice is harmless; the job id still keeps a repeat off the queue.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { HW_COMMANDS_KEEP_SECONDS } from '../../queue/connection.js';
import type { HwCommand } from '../../queue/jobs.js';
import type { CashAmount } from '../../shared/cash.js';

const payoutJobId = (payoutId: string, attempt: number) => `payout-${payoutId}-${attempt}`;

/** A margin under the queue's retention window: a finished command older than this may have been trimmed. */
const NEVER_ADDED_PROOF_MS = (HW_COMMANDS_KEEP_SECONDS - 300) * 1000;

/** Where the command of a payout attempt is: still for the hardware app, finished by it, or never added. */
export type PayoutCommand = 'queued' | 'finished' | 'never-added';

export class HardwareLink {
  constructor(private readonly queue: Queue<HwCommand>) {}

  /** `attempt` > 0 re-issues the same payout id (after a status report showed it never arrived). */
  async payout(payoutId: string, coins: number, attempt = 0): Promise<void> {
    await this.queue.add('payout', { kind: 'payout', payoutId, coins }, { jobId: payoutJobId(payoutId, attempt) });
  }

  /**
   * Where the command of a payout attempt sent at `sentAt` is. `queued`: not finished by the hardware app
   * (waiting while it is down or busy, or taken by an app that died: active until BullMQ's stalled check
   * gives it back). `never-added`: absent while a finished one would still be kept (a crash between
   * marking the payout sent and adding its command). `finished` otherwise, also when it cannot be told
   * (older than the window): the side on which coins are never paid twice.
   */
  async payoutCommand(payoutId: string, attempt: number, sentAt: number, now: number): Promise<PayoutCommand> {
    const state = await this.queue.getJobState(payoutJobId(payoutId, attempt));
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state !== 'unknown') return 'queued';
    return now - sentAt < NEVER_ADDED_PROOF_MS ? 'never-added' : 'finished';
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
