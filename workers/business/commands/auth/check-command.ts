/**
 * Validation then authentication of one command (docs/protocol.md#command-authentication), the CPU
 * work the verification pool runs off the main thread. Pure apart from the
 * key, so tests call it directly.
 */
import type { KeyObject } from 'node:crypto';
import { verifyCommandSignature } from '../../../../shared/command-signature.js';
import { parseCommand, type Command } from '../parse.js';

export interface CheckTask {
  /** The MQTT topic the command arrived on: part of the signed bytes, so it binds device and command type. */
  topic: string;
  /** The topic's last segment. */
  topicType: string;
  body: unknown;
}

export type CheckOutcome =
  | { ok: true; command: Command; authenticated: boolean }
  | { ok: false; code: 'INVALID_COMMAND' | 'UNKNOWN_COMMAND' | 'UNAUTHENTICATED'; detail: string };

/** `publicKey` null = unsigned commands are accepted (the pipeline warned at start-up). */
export function checkCommand(task: CheckTask, publicKey: KeyObject | null): CheckOutcome {
  const parsed = parseCommand(task.topicType, task.body);
  if (!parsed.ok) return parsed;
  if (!publicKey) return { ok: true, command: parsed.command, authenticated: false };
  const body = task.body as Record<string, unknown>;
  if (parsed.command.timestamp === undefined) return { ok: false, code: 'UNAUTHENTICATED', detail: 'timestamp: required on signed commands' };
  if (body.signature == null) return { ok: false, code: 'UNAUTHENTICATED', detail: 'signature: missing' };
  if (!verifyCommandSignature(task.topic, body, publicKey)) return { ok: false, code: 'UNAUTHENTICATED', detail: 'signature: does not verify for this topic and content' };
  return { ok: true, command: parsed.command, authenticated: true };
}
