/**
 * The digest of one command message as it arrived (topic and every member,
 * signature included), stored with the command_id's record. A later message
 * with the same digest is a byte-for-byte copy of the one that was verified
 * and handled, so its stored result can be answered without verifying it
 * again (docs/commands.md#repeats).
 */
import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// The package is CommonJS (`module.exports = fn`) but its typings declare an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** sha256 (hex) of `<topic>\n<JCS of the body>`; null for a body JCS cannot express. */
export function commandDigest(topic: string, body: unknown): string | null {
  try {
    const text = canonicalize(body);
    return text === undefined ? null : createHash('sha256').update(`${topic}\n${text}`, 'utf8').digest('hex');
  } catch {
    return null;
  }
}
