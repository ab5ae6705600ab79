/**
 * A token bucket for inbound commands. A real cloud sends a few commands a
 * minute; a flood (forged or runaway) is cut here, before it costs a queue
 * job, a signature check and a result each, so it cannot starve the exchange
 * path. A command dropped here gets no answer; the cloud's retry with the same
 * command_id is safe (docs/protocol.md#repeats-and-expiry: a command_id executes at most once).
 */
import type { Clock } from '../../../shared/clock.js';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
