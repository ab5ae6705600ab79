/**
 * Cloud commands on `{prefix}/commands/{device_id}/{type}` (PROTOCOL.md §7).
 * Only JSON is checked here; the business app validates, authenticates and
 * answers (a payload over its size limit is still handed over so the
 * business app can refuse it with a result).
 */
import type { CommandJob } from '../../../queue/jobs.js';

export type CommandParse = { ok: true; job: CommandJob } | { ok: false; reason: string };

export function parseCommand(topic: string, commandType: string, payload: Buffer, receivedAt: number): CommandParse {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  return { ok: true, job: { topic, commandType, receivedAt, bytes: payload.length, body } };
}
