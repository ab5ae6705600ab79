/**
 * Cloud commands on `{prefix}/commands/{device_id}/{type}` (docs/protocol.md#7-commands).
 * Only JSON is checked here (the size before, in size-limit.ts); the business
 * app validates, authenticates and answers.
 */
import type { CommandJob } from '../../../queue/jobs.js';

export type CommandParse = { ok: true; job: CommandJob } | { ok: false; reason: string };

/**
 * Deepest nesting handed to the `commands` queue. Far beyond any real command
 * (the business app refuses past 8 levels), yet shallow enough for BullMQ's
 * JSON.stringify, which overflows the stack at a few thousand levels and
 * would drop the command without an answer.
 */
export const MAX_HANDED_DEPTH = 64;

const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null;

function deeperThan(body: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[body, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (!isContainer(v)) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A copy with every container below `max` levels replaced by null: still
 * too deep for the business app, which then refuses it with a result naming
 * its command_id. Keys are defined, not assigned, so a `__proto__` key stays
 * a key (and gets refused) instead of becoming a prototype.
 */
function clipDepth(body: unknown, max: number): unknown {
  if (!isContainer(body)) return body;
  const empty = (v: object): object => (Array.isArray(v) ? [] : {});
  const root = empty(body);
  const stack: Array<[object, object, number]> = [[body, root, 1]];
  while (stack.length > 0) {
    const [from, to, depth] = stack.pop()!;
    for (const [key, child] of Object.entries(from)) {
      let value: unknown = child;
      if (isContainer(child)) {
        value = depth < max ? empty(child) : null;
        if (value) stack.push([child, value as object, depth + 1]);
      }
      Object.defineProperty(to, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

export function toCommandJob(topic: string, commandType: string, payload: Buffer, receivedAt: number): CommandParse {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  if (deeperThan(body, MAX_HANDED_DEPTH)) body = clipDepth(body, MAX_HANDED_DEPTH);
  return { ok: true, job: { topic, commandType, receivedAt, bytes: payload.length, body } };
}
