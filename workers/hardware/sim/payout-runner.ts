/**
 * Runs accepted payouts one after the other, one coin every `coinMs`, like a
 * hopper motor; with `coinMs` 0 the step pays the whole payout at once and
 * nothing waits. Stopping leaves the payout in hand unfinished: the next
 * start ends it with what was paid (hopper.ts `stopUnfinished`).
 */
import type { Logger } from 'pino';

export type CoinStep = (payoutId: string) => Promise<'paid' | 'ended'>;

/** Pause after a failed step (Redis trouble) before trying the same coin again. */
const STEP_RETRY_MS = 1_000;

export class PayoutRunner {
  private readonly queue: string[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly step: CoinStep,
    private readonly coinMs: number,
    private readonly log: Logger,
  ) {}

  enqueue(payoutId: string): void {
    if (this.stopping || this.queue.includes(payoutId)) return;
    this.queue.push(payoutId);
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops after the coin in hand. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 && !this.stopping) {
      const payoutId = this.queue[0]!;
      let delay = this.coinMs;
      while (!this.stopping) {
        if (delay > 0) await this.pause(delay);
        if (this.stopping) return;
        try {
          if ((await this.step(payoutId)) === 'ended') break;
          delay = this.coinMs;
        } catch (err) {
          this.log.error({ err, payoutId }, 'payout step failed; trying the same coin again');
          delay = STEP_RETRY_MS;
        }
      }
      this.queue.shift();
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }
}
