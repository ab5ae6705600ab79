/**
 * The heartbeat's `network_quality` (docs/protocol.md#heartbeat), judged from what this
 * process sees: the cloud's ACK round trip (smoothed) and how often the link
 * dropped in the last hour.
 */
import type { Clock } from '../../shared/clock.js';

export type NetworkQualityLevel = 'excellent' | 'good' | 'fair' | 'poor';

/** ACK round trips at or under this, with no drop in the hour, are the guide's top value. */
const EXCELLENT_MS = 300;

const WINDOW_MS = 3_600_000;

export class NetworkQuality {
  private latency: number | null = null;
  private drops: number[] = [];

  constructor(private readonly clock: Clock) {}

  recordAck(ms: number): void {
    // EWMA: recent ACKs weigh most, one slow ACK does not flip the verdict.
    this.latency = this.latency === null ? ms : 0.8 * this.latency + 0.2 * ms;
  }

  recordDrop(): void {
    this.drops.push(this.clock.now());
  }

  current(): NetworkQualityLevel {
    const since = this.clock.now() - WINDOW_MS;
    this.drops = this.drops.filter((t) => t >= since);
    const n = this.drops.length;
    const l = this.latency ?? 0;
    if (n >= 4 || l > 5_000) return 'poor';
    if (n >= 2 || l > 1_000) return 'fair';
    return n === 0 && l <= EXCELLENT_MS ? 'excellent' : 'good';
  }
}
