/**
 * The edge's size gate: a command or ACK payload over MAX_COMMAND_BYTES is
 * dropped before it is decoded, parsed or queued. Queued, it would sit in
 * Redis with BullMQ's kept jobs; parsed, a few MB cost the mqtt app's small
 * heap. Unanswered: a command_id cannot be read without parsing.
 */
import { MAX_COMMAND_BYTES } from '../../../shared/command-size.js';

export function oversized(payload: Buffer): boolean {
  return payload.length > MAX_COMMAND_BYTES;
}
