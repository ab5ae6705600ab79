/**
 * ACK-driven delivery of ACK-required messages (docs/protocol.md#4-ack-and-retransmission): durable
 * hand-off, send, one precise timer for the earliest retransmission or
 * give-up, offline buffer flushed oldest first on every (re)connect.
 *
 * The clock runs only while connected. When the link drops, in-flight
 * messages go back to the buffer keeping their attempt count and the time
 * left of their current wait; on reconnect each is sent again at once (the
 * drop may have eaten the last send; the cloud de-duplicates by message_id)
 * and its paused wait resumes. A process restart without an observed drop
 * (kill -9) keeps the absolute due times: overdue messages act at once.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import type { Envelope } from '../../shared/messages.js';
import type { Metrics } from '../../shared/metrics.js';
import type { AckVerdict } from './inbound/ack.js';
import type { AddResult, DeliveryStore, Outgoing, SettleResult } from './delivery-store.js';

/** What delivery needs of the MQTT link. */
export interface LinkPublisher {
  /** Connected and subscribed. */
  readonly up: boolean;
  publish(topic: string, payload: string): Promise<void>;
}

export interface DeliveryDeps {
  store: DeliveryStore;
  link: LinkPublisher;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** Called with each ACK round trip (ms), for the heartbeat's network quality. */
  onAckLatency?: (ms: number) => void;
}

/** Messages moved per Lua call while flushing or retransmitting: bounds the time Redis is busy. */
const BATCH = 50;

/**
 * How long an ACK may wait in memory for a Redis call it can ride along with
 * (the next message's `add`, or other ACKs). Settling is bookkeeping: a crash
 * before it only means the message is sent once more and ACKed again
 * (duplicates are allowed, docs/protocol.md#4-ack-and-retransmission). Pending ACKs are settled before
 * any take, retransmission pass or suspension, so they never cause a resend.
 */
const ACK_SETTLE_MS = 200;

export class Delivery {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private dueRunning: Promise<void> | undefined;
  private closed = false;
  /** Set by linkUp/linkDown: until the app has sent its post-connect heartbeat and status, new messages wait in the buffer. */
  private online = false;
  /**
   * Whether the offline buffer is known to be empty, without asking Redis:
   * `bufferGen` counts the calls that may have put something in it (a
   * buffered add, a suspension); `cleanGen` is the count as it was when a
   * take issued after them found the buffer empty. Unequal (e.g. at start)
   * means "maybe not empty": new messages then queue behind, in order.
   */
  private bufferGen = 1;
  private cleanGen = 0;
  /** ACKs received, not yet settled in Redis, with their arrival times. */
  private acks: Array<{ id: string; at: number }> = [];
  private ackTimer: NodeJS.Timeout | undefined;

  constructor(private readonly io: DeliveryDeps) {}

  /**
   * Link up and nothing older waiting: published first, then recorded in
   * flight, both started in the same tick so the broker gets it without
   * waiting for Redis's fsync. Safe because the outbox job completes only once
   * this resolves (the state is durable): a crash in between re-runs the job,
   * which sends the same message_id again; the cloud de-duplicates (duplicates
   * are allowed, never loss: docs/protocol.md#3-envelope). Otherwise it goes into the buffer, in order.
   */
  async submit(topic: string, envelope: Envelope, replay = false): Promise<void> {
    const { store, clock, log } = this.io;
    const payload = JSON.stringify(envelope);
    const now = clock.now();
    const supersedable = envelope.message_type === 'accounting' && envelope.data.report !== 'daily_close';
    const direct = this.sending && this.flushing === undefined && this.cleanGen === this.bufferGen;
    if (!direct) this.bufferGen++;
    const published = direct ? this.send({ id: envelope.message_id, topic, payload }, envelope.message_type, false) : undefined;
    const acks = this.takeAcks();
    let r: AddResult;
    try {
      r = await store.add({ id: envelope.message_id, topic, payload, type: envelope.message_type, supersedable, now, sent: direct, replay, settle: acks.map((a) => a.id) });
    } catch (err) {
      // Not settled: keep them for the next call.
      this.acks.unshift(...acks);
      throw err;
    }
    this.settled(acks, r.settled);
    if (r.kind === 'duplicate') {
      // A re-run job: its first run recorded it (this send, if any, is a duplicate the cloud drops).
      log.debug({ messageId: envelope.message_id }, 'message already handed over; not recorded again');
    } else if (r.kind === 'sent') {
      this.armAt(now + store.gapsMs[0]!);
    } else {
      this.io.metrics.set('offline_buffer_size', r.buffered);
      if (r.superseded.length > 0) log.info({ superseded: r.superseded, by: envelope.message_id }, 'newer accounting supersedes unsent snapshot');
      this.logDropped(r.dropped);
      if (this.sending) void this.flush();
    }
    await published;
  }

  /** The link is up: flush the buffer oldest first, then continue the in-flight schedules. */
  async linkUp(): Promise<void> {
    this.online = true;
    await this.flush();
  }

  /** The link dropped: stop the clock and put in-flight messages back in the buffer. */
  async linkDown(): Promise<void> {
    this.online = false;
    this.clearTimer();
    this.bufferGen++;
    void this.settleNow();
    const r = await this.io.store.suspend(this.io.clock.now());
    this.io.metrics.set('offline_buffer_size', r.buffered);
    if (r.suspended > 0) this.io.log.info({ suspended: r.suspended, buffered: r.buffered }, 'link down: in-flight messages back in the buffer');
    this.logDropped(r.dropped);
  }

  /**
   * Every ACK settles but one whose status says it failed (docs/protocol.md#cloud-ack, docs/cloud-interop.md),
   * which leaves the message on its schedule. Settled in batches (ACK_SETTLE_MS), no Redis call of its own
   * when a new message's call comes first.
   */
  async handleAck(ack: AckVerdict): Promise<void> {
    const id = ack.id;
    if (ack.failed) {
      this.io.log.warn({ messageId: id, status: ack.status, error: ack.errorMessage }, 'cloud reported an error for a message; it stays pending');
      this.io.metrics.incr('acks_error_total');
      return;
    }
    this.acks.push({ id, at: this.io.clock.now() });
    if (this.closed || this.acks.length >= BATCH) void this.settleNow();
    else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => void this.settleNow(), ACK_SETTLE_MS);
      this.ackTimer.unref();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clearTimer();
    await Promise.allSettled([this.flushing, this.dueRunning]);
    await this.settleNow();
  }

  private get sending(): boolean {
    return this.online && this.io.link.up && !this.closed;
  }

  private async send(m: Outgoing, type: string, resend: boolean): Promise<void> {
    try {
      await this.io.link.publish(m.topic, m.payload);
      this.io.metrics.incr('messages_published_total', { type });
      if (resend) this.io.metrics.incr('retransmits_total');
    } catch (err) {
      // Still in flight in Redis: a dropped link suspends it, otherwise the timer resends it.
      this.io.log.debug({ messageId: m.id, err: (err as Error).message }, 'publish failed');
    }
  }

  private flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        while (this.sending) {
          // ACKed messages leave the buffer before the take, so they are not sent again.
          void this.settleNow();
          const gen = this.bufferGen;
          const r = await this.io.store.take(this.io.clock.now(), BATCH);
          this.io.metrics.set('offline_buffer_size', r.buffered);
          if (r.nextDueAt !== null) this.armAt(r.nextDueAt);
          for (const item of r.items) await this.send(item, typeOf(item.payload), !item.firstSend);
          if (r.buffered === 0) {
            // Everything buffered before this take has now been sent.
            this.cleanGen = gen;
            break;
          }
        }
      } while (this.flushAgain && this.sending);
    })()
      .catch((err) => {
        this.io.log.error({ err }, 'flushing the offline buffer failed; retrying shortly');
        setTimeout(() => {
          if (this.sending) void this.flush();
        }, 1000).unref();
      })
      .finally(() => {
        this.flushing = undefined;
        // A request made after the loop's last check (an add answered in the same Redis reply as an empty take)
        // found `flushing` still set: run again, or the message waits for the next reconnect (docs/protocol.md#offline-buffer).
        if (this.flushAgain && this.sending) void this.flush();
      });
    return this.flushing;
  }

  private armAt(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.runDue();
    }, Math.max(0, at - this.io.clock.now()));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private runDue(): Promise<void> {
    if (this.dueRunning || !this.sending) return this.dueRunning ?? Promise.resolve();
    this.dueRunning = (async () => {
      let next: number | null;
      do {
        const now = this.io.clock.now();
        // An ACK waiting in memory must not cause a resend.
        void this.settleNow();
        const r = await this.io.store.due(now, BATCH);
        for (const g of r.gaveUp) {
          this.io.log.warn({ messageId: g.id, type: g.type, sends: g.attempts }, 'no ACK after the last retransmission; message moved to failed');
          this.io.metrics.incr('giveups_total');
        }
        for (const m of r.resent) {
          this.io.log.debug({ messageId: m.id, attempt: m.attempts }, 'retransmitting');
          await this.send(m, typeOf(m.payload), true);
        }
        next = r.nextDueAt;
        // A full batch may have left more overdue messages behind it.
        if (r.resent.length + r.gaveUp.length < BATCH) break;
      } while (this.sending);
      if (next !== null && this.sending) this.armAt(next);
    })()
      .catch((err) => {
        this.io.log.error({ err }, 'retransmission pass failed; retrying shortly');
        this.armAt(this.io.clock.now() + 1000);
      })
      .finally(() => {
        this.dueRunning = undefined;
      });
    return this.dueRunning;
  }

  private takeAcks(): Array<{ id: string; at: number }> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const batch = this.acks;
    this.acks = [];
    return batch;
  }

  /** Settles the ACKs waiting in memory; the Redis call is issued before this returns, so it precedes any later call. */
  private settleNow(): Promise<void> {
    const batch = this.takeAcks();
    if (batch.length === 0) return Promise.resolve();
    return this.io.store.settleMany(batch.map((a) => a.id)).then(
      (results) => this.settled(batch, results),
      // Still pending in Redis: resent on schedule and ACKed again.
      (err) => this.io.log.error({ err, acks: batch.length }, 'settling ACKed messages failed'),
    );
  }

  private settled(batch: Array<{ id: string; at: number }>, results: Array<SettleResult | null>): void {
    batch.forEach((a, i) => {
      const r = results[i];
      if (!r) {
        // Normal after a retransmission crossed its ACK; counted so a cloud ACKing wrong ids shows up.
        this.io.log.debug({ messageId: a.id }, 'ACK for an unknown or settled message; ignored');
        this.io.metrics.incr('acks_ignored_total');
        return;
      }
      if (r.sentAt !== null) {
        const latency = Math.max(0, a.at - r.sentAt);
        this.io.metrics.observe('ack_latency_ms', latency);
        this.io.onAckLatency?.(latency);
      }
    });
  }

  private logDropped(dropped: Array<{ id: string; type: string }>): void {
    if (dropped.length === 0) return;
    this.io.log.warn({ dropped }, 'offline buffer full: oldest messages dropped (recoverable from the journal)');
    this.io.metrics.incr('offline_dropped_total', undefined, dropped.length);
  }
}

/** The metric label of a stored payload; cheap because the type sits near the front. */
function typeOf(payload: string): string {
  return /"message_type":"([a-z_]+)"/.exec(payload)?.[1] ?? 'unknown';
}
