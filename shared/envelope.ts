/** The envelope of every device message except command results (docs/protocol.md#3-envelope). */
import type { Redis } from 'ioredis';
import { formatTimestamp, type Clock, type TimestampFormat } from './clock.js';
import { newMessageId } from './ids.js';
import type { Envelope } from './messages.js';
import { ackRequired, type OutboundType } from './topics.js';
import type { RedisKeys } from './keys.js';

export interface EnvelopeContext {
  deviceId: string;
  version: string;
  timestampFormat: TimestampFormat;
  clock: Clock;
  /** When set, ACK-required messages get the durable `seq` extension. */
  seq?: { redis: Redis; keys: RedisKeys };
}

/** The envelope without the `seq` extension (types that need no ACK never carry it); synchronous, e.g. for the MQTT last will. */
export function plainEnvelope(ctx: Omit<EnvelopeContext, 'seq'>, type: OutboundType, data: Record<string, unknown>): Envelope {
  return {
    timestamp: formatTimestamp(ctx.clock.now(), ctx.timestampFormat),
    device_id: ctx.deviceId,
    message_id: newMessageId(),
    message_type: type,
    version: ctx.version,
    data,
  };
}

export async function buildEnvelope(ctx: EnvelopeContext, type: OutboundType, data: Record<string, unknown>): Promise<Envelope> {
  const envelope = plainEnvelope(ctx, type, data);
  if (ctx.seq && ackRequired.has(type)) envelope.seq = await ctx.seq.redis.incr(ctx.seq.keys.messageSeq);
  return envelope;
}
