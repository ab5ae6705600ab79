/** Cloud ACKs on `{prefix}/ack/{device_id}` (docs/protocol.md#cloud-ack; dialects in docs/cloud-interop.md). */
import { cloudAckSchema, type CloudAck } from '../../../shared/messages.js';

/** What an ACK means for the message it names. */
export interface AckVerdict {
  id: string;
  /** The cloud says it failed: the message stays on its schedule. */
  failed: boolean;
  /** The status as sent, `received` when absent. */
  status: string;
  /** A status word the protocol does not define (settles, counted in `acks_unknown_status_total`). */
  unknownStatus: boolean;
  errorMessage?: string;
}

export type AckParse = { ok: true; ack: AckVerdict } | { ok: false; reason: string };

const SETTLE = new Set(['received', 'processed', 'success']);
const FAILED = new Set(['error', 'failed', 'fail', 'nack']);

export function ackVerdict(ack: CloudAck): AckVerdict {
  const id = (ack.ack_message_id ?? ack.message_id)!;
  const status = ack.status ?? 'received';
  const word = status.trim().toLowerCase();
  const failed = FAILED.has(word);
  const v: AckVerdict = { id, failed, status, unknownStatus: !failed && !SETTLE.has(word) };
  if (ack.error_message != null) v.errorMessage = ack.error_message;
  return v;
}

/** Invalid input is a value, never a throw: a bad ACK must not crash the link. */
export function parseAck(payload: Buffer): AckParse {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  const r = cloudAckSchema.safeParse(json);
  return r.success ? { ok: true, ack: ackVerdict(r.data) } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'ack'}: ${i.message}`).join('; ') };
}
