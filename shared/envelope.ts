/** The envelope of every device message except command results (docs/protocol.md#3-envelope). */
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { formatTimestamp, type Clock, type TimestampFormat } from './clock.js';
import { newMessageId } from './ids.js';
import { accountingDataSchema, alarmDataSchema, errorDataSchema, heartbeatDataSchema, transactionDataSchema, type Envelope } from './messages.js';
import { statusDataSchema } from './status-message.js';
import { ackRequired, type OutboundType } from './topics.js';
import type { RedisKeys } from './keys.js';

/** The `data` schema of each outbound message type (docs/protocol.md#5-device-messages). */
export const outboundDataSchemas = {
  accounting: accountingDataSchema,
  transaction: transactionDataSchema,
  error: errorDataSchema,
  alarm: alarmDataSchema,
  heartbeat: heartbeatDataSchema,
  status: statusDataSchema,
} satisfies Record<OutboundType, z.ZodType>;

export type OutboundData<T extends OutboundType> = z.infer<(typeof outboundDataSchemas)[T]>;

/** A device message of type `T` as built: its `data` is that type's. */
export type OutboundEnvelope<T extends OutboundType> = Omit<Envelope, 'message_type' | 'data'> & { message_type: T; data: OutboundData<T> };

/** Any device message as built: a union keyed by `message_type`. */
export type DeviceMessage = { [T in OutboundType]: OutboundEnvelope<T> }[OutboundType];

export interface EnvelopeContext {
  deviceId: string;
  version: string;
  timestampFormat: TimestampFormat;
  clock: Clock;
  /** When set, ACK-required messages get the durable `seq` extension. */
  seq?: { redis: Redis; keys: RedisKeys };
}

/** The fields around `data`: a fresh message id, the time now. */
export function envelopeHead<T extends OutboundType>(ctx: Omit<EnvelopeContext, 'seq'>, type: T) {
  return {
    timestamp: formatTimestamp(ctx.clock.now(), ctx.timestampFormat),
    device_id: ctx.deviceId,
    message_id: newMessageId(),
    message_type: type,
    version: ctx.version,
  };
}

/** The envelope without the `seq` extension (types that need no ACK never carry it); synchronous, e.g. for the MQTT last will. */
export function plainEnvelope<T extends OutboundType>(ctx: Omit<EnvelopeContext, 'seq'>, type: T, data: OutboundData<T>): OutboundEnvelope<T> {
  return { ...envelopeHead(ctx, type), data };
}

export function buildEnvelope<T extends OutboundType>(ctx: EnvelopeContext, type: T, data: OutboundData<T>): Promise<OutboundEnvelope<T>> {
  return numbered(ctx, plainEnvelope(ctx, type, data));
}

/** Gives an ACK-required envelope its `seq` when `ctx` numbers messages. */
export async function numbered<E extends { message_type: OutboundType; seq?: number }>(ctx: EnvelopeContext, envelope: E): Promise<E> {
  if (ctx.seq && ackRequired.has(envelope.message_type)) envelope.seq = await ctx.seq.redis.incr(ctx.seq.keys.messageSeq);
  return envelope;
}
