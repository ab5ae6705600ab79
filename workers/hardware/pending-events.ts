/**
 * The durable hand-over of hardware events (ARCHITECTURE.md invariant 1).
 * A driver appends each event to a Redis list in the same atomic step that
 * records the physical fact (the simulator), or before it acknowledges the
 * fact to the board (a serial driver). One delivery loop then hands the list
 * to the sink in order and removes an entry only after the sink resolved.
 * A sink failure or a crash leaves the entry in place: it is delivered again
 * (same eventId) after a back-off or on the next start.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { hwEventSchema, type HwEvent } from '../../queue/jobs.js';
import type { RedisKeys } from '../../shared/keys.js';
import type { EventSink } from './driver.js';

export interface PendingEventsOptions {
  /** First retry delay after a failed delivery, ms; doubles up to `maxRetryMs`. Default 500. */
  retryMs?: number;
  /** Longest retry delay, ms. Default 30000. */
  maxRetryMs?: number;
}

export class PendingEvents {
  private sink: EventSink | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Pick<RedisKeys, 'hwPending' | 'hwPendingBad'>,
    private readonly log: Logger,
    opts: PendingEventsOptions = {},
  ) {
    this.retryMs = opts.retryMs ?? 500;
    this.maxRetryMs = opts.maxRetryMs ?? 30_000;
  }

  static encode(event: HwEvent): string {
    return JSON.stringify(event);
  }

  /**
   * Records one event on its own, then starts delivering it. For drivers
   * whose fact is kept elsewhere (a board that repeats a report until it is
   * acknowledged); the simulator appends inside its truth update instead.
   */
  async append(event: HwEvent): Promise<void> {
    await this.redis.rpush(this.keys.hwPending, PendingEvents.encode(event));
    this.kick();
  }

  onDeliver(sink: EventSink): void {
    this.sink = sink;
  }

  /** Events recorded but not yet handed over. */
  count(): Promise<number> {
    return this.redis.llen(this.keys.hwPending);
  }

  /** Delivers whatever is pending now; at most one delivery loop runs at a time. */
  kick(): void {
    if (this.closed || !this.sink || this.retryTimer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Stops delivering after the event in hand; what is left stays pending for the next start. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.running;
  }

  private async drain(): Promise<void> {
    const sink = this.sink!;
    try {
      while (!this.closed) {
        const [raw] = await this.redis.lrange(this.keys.hwPending, 0, 0);
        if (raw === undefined) return;
        const event = this.decode(raw);
        if (!event) {
          // Never drop a recorded fact: park it for a person to inspect.
          await this.redis.multi().lrem(this.keys.hwPending, 1, raw).rpush(this.keys.hwPendingBad, raw).exec();
          this.log.error({ raw }, 'unreadable pending hardware event moved aside');
          continue;
        }
        await sink(event);
        await this.redis.lrem(this.keys.hwPending, 1, raw);
        this.failures = 0;
      }
    } catch (err) {
      this.failures += 1;
      const delay = Math.min(this.retryMs * 2 ** (this.failures - 1), this.maxRetryMs);
      this.log.warn({ err, retryInMs: delay }, 'hardware event delivery failed; kept pending');
      this.again = false;
      if (!this.closed) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delay);
      }
    }
  }

  private decode(raw: string): HwEvent | null {
    try {
      const parsed = hwEventSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }
}
