/**
 * The first, cheapest gate of the command pipeline: size and shape limits,
 * checked on the main thread without recursion, before anything recursive
 * (structured clone into the verification pool, JCS, zod) sees the payload.
 * Also reads the two fields a refusal needs (command_id, requires_ack) from
 * a payload that may be hostile.
 */
import { MAX_COMMAND_BYTES } from '../../../shared/command-size.js';

export const commandLimits = {
  /** Largest accepted payload, bytes; the mqtt app drops larger ones unparsed. */
  maxBytes: MAX_COMMAND_BYTES,
  /** Deepest nesting. The deepest real field (`data.bonus_table.<amount>`) is at depth 3. */
  maxDepth: 8,
  /** Most values (objects, arrays, scalars) in one payload. */
  maxValues: 1_000,
  /** Longest command_id echoed back in a refusal. */
  maxEchoedIdLength: 200,
} as const;

/** Keys that could reach an object's prototype in code that merges objects; never legitimate in a command. */
const forbiddenKeys: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns what is wrong with the payload's size or shape, or null when it may go on. */
export function shapeProblem(body: unknown, bytes: number): string | null {
  if (bytes > commandLimits.maxBytes) return `payload of ${bytes} bytes exceeds ${commandLimits.maxBytes}`;
  if (!isPlainObject(body)) return 'payload must be a JSON object';
  const stack: Array<[unknown, number, string]> = [[body, 1, '']];
  let values = 0;
  while (stack.length > 0) {
    const [value, depth, path] = stack.pop()!;
    if (++values > commandLimits.maxValues) return `more than ${commandLimits.maxValues} values`;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > commandLimits.maxDepth) return `${path || 'payload'}: nested deeper than ${commandLimits.maxDepth} levels`;
    if (Array.isArray(value)) {
      if (values + value.length > commandLimits.maxValues) return `more than ${commandLimits.maxValues} values`;
      value.forEach((item, i) => stack.push([item, depth + 1, `${path}[${i}]`]));
      continue;
    }
    const keys = Object.keys(value);
    if (values + keys.length > commandLimits.maxValues) return `more than ${commandLimits.maxValues} values`;
    for (const key of keys) {
      const at = path ? `${path}.${key}` : key;
      if (forbiddenKeys.has(key)) return `${at}: forbidden key`;
      stack.push([(value as Record<string, unknown>)[key], depth + 1, at]);
    }
  }
  return null;
}

/** The command_id when a refusal can name it: a non-empty string of bounded length at the top level. */
export function readableCommandId(body: unknown): string | null {
  if (!isPlainObject(body) || !Object.hasOwn(body, 'command_id')) return null;
  const id = body.command_id;
  return typeof id === 'string' && id.length > 0 && id.length <= commandLimits.maxEchoedIdLength ? id : null;
}

/** docs/protocol.md#command-result publishes a result "when requires_ack is true"; absent (the guide's test command) counts as true. */
export function wantsResult(body: unknown): boolean {
  return !(isPlainObject(body) && Object.hasOwn(body, 'requires_ack') && body.requires_ack === false);
}
