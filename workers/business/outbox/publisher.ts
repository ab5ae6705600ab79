/**
 * Hands messages to the mqtt app. ACK-required messages are committed to the
 * `unsent` list by the same script that changes the state (store/plan.ts);
 * `drain()` moves them onto the `outbox` queue in order, with the message id
 * as the BullMQ job id, and removes each only after the queue has it. A crash
 * in between re-adds it on the next drain: the same message id, which the
 * cloud de-duplicates (docs/protocol.md#3-envelope). Status messages (no ACK) go straight
 * to the queue.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { buildEnvelope, type DeviceMessage, type EnvelopeContext, type OutboundData, type OutboundEnvelope } from '../../../shared/envelope.js';
import type { RedisKeys } from '../../../shared/keys.js';
import { envelopeSchema, type Envelope } from '../../../shared/messages.js';
import type { OutboundType } from '../../../shared/topics.js';
import type { OutboxJob } from '../../../queue/jobs.js';

export class Publisher {
  private draining: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly outbox: Queue<OutboxJob>,
    /** Without `seq`: plans number ACK-required messages atomically with the state. */
    private readonly envelopeContext: Omit<EnvelopeContext, 'seq'>,
    private readonly log: Logger,
  ) {}

  /** A new envelope (fresh message id, no `seq`). */
  envelope<T extends OutboundType>(type: T, data: OutboundData<T>): Promise<OutboundEnvelope<T>> {
    return buildEnvelope(this.envelopeContext, type, data);
  }

  /** Sends a message that needs no ACK and no durability (status). */
  async sendUntracked(envelope: DeviceMessage): Promise<void> {
    await this.outbox.add(envelope.message_type, messageJob(envelope), { jobId: envelope.message_id });
  }

  /** Moves every committed message onto the outbox queue, oldest first. Concurrent calls coalesce. */
  drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      try {
        do {
          this.again = false;
          await this.drainOnce();
        } while (this.again);
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }

  /** Messages committed but not yet handed over. */
  pending(): Promise<number> {
    return this.redis.llen(this.keys.unsent);
  }

  private async drainOnce(): Promise<void> {
    for (;;) {
      // A batch per round trip: after an outage or at a high rate many messages wait, and each
      // separate write is an fsync with `appendfsync always` (docs/durability.md).
      const raws = await this.redis.lrange(this.keys.unsent, 0, DRAIN_BATCH - 1);
      if (raws.length === 0) return;
      const messages: { raw: string; envelope: Envelope }[] = [];
      for (const raw of raws) {
        const envelope = parseUnsent(raw);
        if (envelope) {
          messages.push({ raw, envelope });
          continue;
        }
        // Written by our own script, so this cannot happen short of a bug; keep it out of the way, visibly.
        this.log.error({ raw }, 'unreadable unsent message; moved aside');
        await this.redis.multi().lrem(this.keys.unsent, 1, raw).rpush(`${this.keys.unsent}:bad`, raw).exec();
      }
      if (messages.length === 0) continue;
      await this.outbox.addBulk(messages.map(({ envelope }) => ({ name: envelope.message_type, data: messageJob(envelope), opts: { jobId: envelope.message_id } })));
      // Removed by value once the queue has them: a crash in between re-adds the same message ids.
      const removal = this.redis.multi();
      for (const { raw } of messages) removal.lrem(this.keys.unsent, 1, raw);
      await removal.exec();
      // A short batch was all there was: whoever commits a message later calls drain() (or the
      // engine's periodic follow-up finds it), so no read just to find the list empty.
      if (raws.length < DRAIN_BATCH) return;
    }
  }
}

/** Messages moved to the outbox queue per round trip. */
const DRAIN_BATCH = 50;

const messageJob = (envelope: Envelope): OutboxJob => ({ kind: 'message', envelope });

/** `{"seq":n,"envelope":{…}}` as committed by the plan script; seq 0 = the extension is off. */
const unsentSchema = z.object({ seq: z.number().optional(), envelope: z.record(z.string(), z.unknown()) });

export function parseUnsent(raw: string): Envelope | null {
  try {
    const stored = unsentSchema.safeParse(JSON.parse(raw));
    if (!stored.success) return null;
    const { seq, envelope } = stored.data;
    const parsed = envelopeSchema.safeParse(seq !== undefined && seq > 0 ? { ...envelope, seq } : envelope);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
