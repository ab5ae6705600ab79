/**
 * The cloud simulator's ACK policy, switchable at run time through Redis
 * (`keys.cloudSimPolicy`, set by `coinerex cloud policy …`).
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export type AckPolicy =
  | { kind: 'ack-all' }
  /** Never ACK: the device retransmits, then gives up (docs/protocol.md#4-ack-and-retransmission). */
  | { kind: 'ack-none' }
  /** ACK with status `error`: the message stays pending and is retransmitted. */
  | { kind: 'error' }
  | { kind: 'delay'; ms: number };

export const defaultPolicy: AckPolicy = { kind: 'ack-all' };
export const POLICY_USAGE = 'ack-all | ack-none | error | delay <ms>';

/** Parses `ack-all`, `ack-none`, `error` or `delay <ms>`; null when it is none of them. */
export function parsePolicy(text: string): AckPolicy | null {
  const [word, arg, ...rest] = text.trim().split(/\s+/);
  if (rest.length > 0) return null;
  if ((word === 'ack-all' || word === 'ack-none' || word === 'error') && arg === undefined) return { kind: word };
  if (word === 'delay' && arg !== undefined && /^\d{1,7}$/.test(arg)) return { kind: 'delay', ms: Number(arg) };
  return null;
}

export function formatPolicy(p: AckPolicy): string {
  return p.kind === 'delay' ? `delay ${p.ms}` : p.kind;
}

/** The policy in force; the default when unset or unreadable. */
export async function readPolicy(redis: Redis, keys: RedisKeys): Promise<AckPolicy> {
  const raw = await redis.get(keys.cloudSimPolicy);
  return (raw !== null && parsePolicy(raw)) || defaultPolicy;
}

export async function writePolicy(redis: Redis, keys: RedisKeys, p: AckPolicy): Promise<void> {
  await redis.set(keys.cloudSimPolicy, formatPolicy(p));
}
