/**
 * Envelopes around partial `data`, for tests of what carries messages
 * (delivery, ACK, order, the envelope itself), which never read `data`:
 * the wire type, numbered as real ones are, without a cast.
 */
import { envelopeHead, numbered, type EnvelopeContext } from '../../shared/envelope.js';
import type { Envelope } from '../../shared/messages.js';
import type { OutboundType } from '../../shared/topics.js';

export function partialEnvelope(ctx: EnvelopeContext, type: OutboundType, data: Record<string, unknown>): Promise<Envelope> {
  return numbered(ctx, { ...envelopeHead(ctx, type), data });
}
