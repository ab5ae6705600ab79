/**
 * Command authentication (docs/protocol.md#command-authentication): an Ed25519 signature over the
 * UTF-8 bytes of `<topic>` + "\n" + the RFC 8785 (JCS) canonical JSON of the
 * command without its `signature` member. One implementation for the device
 * (verification), the CLI (`coinerex sign`) and the cloud simulator.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// The package is CommonJS (`module.exports = fn`) but its typings declare an ES default export.
/** RFC 8785 (JCS) canonical JSON; undefined for a value JSON cannot express. */
export const canonicalJson = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** Ed25519 signatures are 64 bytes: 88 base64 characters with padding. */
const base64Signature = /^[A-Za-z0-9+/]{86}==$/;

/** The exact bytes that are signed. Throws on values JCS cannot express (NaN, Infinity). */
export function signingInput(topic: string, command: Record<string, unknown>): Buffer {
  // fromEntries defines own properties, so even a `__proto__` member is signed as data.
  const unsigned = Object.fromEntries(Object.entries(command).filter(([key]) => key !== 'signature'));
  return Buffer.from(`${topic}\n${canonicalJson(unsigned)}`, 'utf8');
}

/** Base64 signature of `command` for `topic`. */
export function signCommand(topic: string, command: Record<string, unknown>, privateKey: KeyObject): string {
  return sign(null, signingInput(topic, command), privateKey).toString('base64');
}

/** True only for a well-formed signature that verifies against `publicKey`. */
export function verifyCommandSignature(topic: string, command: Record<string, unknown>, publicKey: KeyObject): boolean {
  const signature = command.signature;
  if (typeof signature !== 'string' || !base64Signature.test(signature)) return false;
  try {
    return verify(null, signingInput(topic, command), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
