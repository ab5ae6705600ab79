/**
 * The durable hand-over of hardware events (docs/architecture.md#invariant-1),
 * shared by the drivers that record events in Redis: the simulator and the
 * ccTalk driver append each event to a Redis list in the same atomic step
 * that records the fact (sim/truth-store.ts, cctalk/store.ts). One delivery loop then
 * hands the list to the sink in order, several events at a time, and removes
 * them only after the sink resolved. A sink failure or a crash leaves them in
 * place: they are delivered again (same eventIds) after a back-off or on the
 * next start.
 *
 * The loop does not read the list for every event: this process is its only
 * writer, so it keeps a copy in memory (loaded by `sync()` at start, extended
 * by `recorded()` after each commit) and reads Redis again only when a write
 * of its own had an unknown outcome (`markStale()`). Delivered events leave
 * the list a moment later, several with one write (`ackDelayMs`).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { hwEventSchema, type HwEvent } from '../../queue/jobs.js';
import type { RedisKeys } from '../../shared/keys.js';
import type { EventBatchSink } from './driver.js';

export interface PendingEventsOptions {
  /** First retry delay after a failed delivery, ms; doubles up to `maxRetryMs`. Default 500. */
  retryMs?: number;
  /** Longest retry delay, ms. Default 30000. */
  maxRetryMs?: number;
  /** Most events handed to the sink at once. Default 50. */
  maxBatch?: number;
  /**
   * Delivered events are removed from the list this long after a delivery,
   * together with any delivered meanwhile (one write for several). A crash in
   * between delivers them again, which every sink tolerates. Default 50.
   */
  ackDelayMs?: number;
}

interface Entry {
  raw: string;
  event: HwEvent;
}

// KEYS: pending. ARGV: the raws just delivered, head first. When they are the
// head (the normal case) one LTRIM drops them; otherwise (a re-sent removal,
// the list re-read in between) each is removed by value, as before.
const ackLua = `
local n = #ARGV
local head = redis.call('LRANGE', KEYS[1], 0, n - 1)
local same = #head == n
if same then
  for i = 1, n do
    if head[i] ~= ARGV[i] then same = false break end
  end
end
if same then
  redis.call('LTRIM', KEYS[1], n, -1)
  return n
end
for i = 1, n do redis.call('LREM', KEYS[1], 1, ARGV[i]) end
return 0
`;

const ACK = 'coinerexHwPendingAck';
type WithAck = Redis & { [ACK](key: string, ...raws: string[]): Promise<number> };

export class PendingEvents {
  private sink: EventBatchSink | undefined;
  private readonly redis: WithAck;
  /** The list as this process knows it, head first. Valid only while not `stale`. */
  private entries: Entry[] = [];
  /** How many of `entries` (from the head) were delivered and wait for their removal. */
  private handed = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private acking: Promise<void> | undefined;
  private stale = true;
  private syncing: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxBatch: number;
  private readonly ackDelayMs: number;

  constructor(
    redis: Redis,
    private readonly keys: Pick<RedisKeys, 'hwPending' | 'hwPendingBad'>,
    private readonly log: Logger,
    opts: PendingEventsOptions = {},
  ) {
    if (!(ACK in redis)) redis.defineCommand(ACK, { numberOfKeys: 1, lua: ackLua });
    this.redis = redis as WithAck;
    this.retryMs = opts.retryMs ?? 500;
    this.maxRetryMs = opts.maxRetryMs ?? 30_000;
    this.maxBatch = opts.maxBatch ?? 50;
    this.ackDelayMs = opts.ackDelayMs ?? 50;
  }

  static encode(event: HwEvent): string {
    return JSON.stringify(event);
  }

  onDeliver(sink: EventBatchSink): void {
    this.sink = sink;
  }

  /**
   * The events a commit of this process has just appended, in list order.
   * The caller commits one step at a time and calls this before the next.
   */
  recorded(events: readonly HwEvent[]): void {
    if (events.length === 0) return;
    // A stale copy is replaced by the next sync, which reads these too.
    if (!this.stale) for (const event of events) this.entries.push({ raw: PendingEvents.encode(event), event });
    this.kick();
  }

  /** A write to the list may or may not have happened (an error without a reply): read it again before relying on the copy. */
  markStale(): void {
    this.stale = true;
  }

  /**
   * Reads the list into the copy if it is stale. The caller guarantees that no
   * write of its own to the list is in flight; a delivery in hand finishes first.
   */
  async sync(): Promise<void> {
    if (!this.stale) return;
    this.syncing ??= (async () => {
      await this.running;
      // What was delivered leaves first, so the list read is not delivered again.
      await this.flushAck();
      const raws = await this.redis.lrange(this.keys.hwPending, 0, -1);
      const entries: Entry[] = [];
      for (const raw of raws) {
        const event = this.decode(raw);
        if (event) {
          entries.push({ raw, event });
          continue;
        }
        // Never drop a recorded fact: park it for a person to inspect.
        await this.redis.multi().lrem(this.keys.hwPending, 1, raw).rpush(this.keys.hwPendingBad, raw).exec();
        this.log.error({ raw }, 'unreadable pending hardware event moved aside');
      }
      this.entries = entries;
      this.handed = 0;
      this.stale = false;
    })().finally(() => {
      this.syncing = undefined;
    });
    await this.syncing;
    this.kick();
  }

  /** Events recorded but not yet handed over. */
  count(): Promise<number> {
    return this.redis.llen(this.keys.hwPending);
  }

  /** Delivers whatever is pending now; at most one delivery loop runs at a time. */
  kick(): void {
    if (this.closed || !this.sink || this.retryTimer || this.stale || this.syncing) return;
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

  /** Stops delivering after the events in hand; what is left stays pending for the next start. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.syncing?.catch(() => undefined);
    await this.running;
    await this.flushAck();
  }

  private async drain(): Promise<void> {
    const sink = this.sink!;
    try {
      while (!this.closed && !this.stale && this.entries.length > this.handed) {
        const batch = this.entries.slice(this.handed, this.handed + this.maxBatch);
        await sink(batch.map((e) => e.event));
        // A removal meanwhile took only entries handed before this batch: it still follows them.
        this.handed += batch.length;
        this.failures = 0;
        this.ackTimer ??= setTimeout(() => {
          this.ackTimer = undefined;
          void this.flushAck();
        }, this.ackDelayMs);
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

  /** Removes the delivered events from the list; on failure they stay and the next removal takes them. */
  private flushAck(): Promise<void> {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.acking ??= (async () => {
      while (this.handed > 0) {
        const n = this.handed;
        try {
          await this.redis[ACK](this.keys.hwPending, ...this.entries.slice(0, n).map((e) => e.raw));
        } catch (err) {
          this.log.warn({ err }, 'delivered hardware events not removed from the pending list; retried later');
          if (!this.closed) this.ackTimer ??= setTimeout(() => void this.flushAck(), this.retryMs);
          return;
        }
        // Only this removes from the head, and only one runs at a time.
        this.entries.splice(0, n);
        this.handed -= n;
      }
    })().finally(() => {
      this.acking = undefined;
    });
    return this.acking;
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

/**
 * After a commit whose outcome is unknown (the pending list is stale), reads
 * the list again once no step is running, until a read succeeds: its events
 * are then delivered. `enqueue` puts the read on the driver's one-step-at-a-time
 * chain; nothing is scheduled once `closed()`.
 */
export class Resync {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pending: PendingEvents,
    private readonly enqueue: (read: () => Promise<void>) => void,
    private readonly closed: () => boolean,
    private readonly delayMs = 1_000,
  ) {}

  later(): void {
    if (this.timer || this.closed()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue(() => this.pending.sync().catch(() => this.later()));
    }, this.delayMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}
