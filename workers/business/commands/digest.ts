/**
 * The digest of one command message as it arrived (topic and every member,
 * signature included), stored with the command_id's record. A later message
 * with the same digest is a byte-for-byte copy of the one that was verified
 * and handled, so its stored result can be answered without verifying it
 * again (docs/commands.md#repeats).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../../shared/command-signature.js';

/** sha256 (hex) of `<topic>\n<JCS of the body>`; null for a body JCS cannot express. */
export function commandDigest(topic: string, body: unknown): string | null {
  try {
    const text = canonicalJson(body);
    return text === undefined ? null : createHash('sha256').update(`${topic}\n${text}`, 'utf8').digest('hex');
  } catch {
    return null;
  }
}
