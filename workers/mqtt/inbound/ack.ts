/** Cloud ACKs on `{prefix}/ack/{device_id}` (docs/protocol.md#cloud-ack). */
import { cloudAckSchema, type CloudAck } from '../../../shared/messages.js';

export type AckParse = { ok: true; ack: CloudAck } | { ok: false; reason: string };

/** Invalid input is a value, never a throw: a bad ACK must not crash the link. */
export function parseAck(payload: Buffer): AckParse {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  const r = cloudAckSchema.safeParse(json);
  return r.success ? { ok: true, ack: r.data } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'ack'}: ${i.message}`).join('; ') };
}
