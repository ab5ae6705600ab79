/**
 * Handled command ids (docs/protocol.md#repeats-and-expiry, docs/architecture.md#invariant-3): a
 * command_id executes at most once, ever (kept 35 days, beyond the
 * protocol's 30), and a repeat gets the original result.
 *
 * A command is claimed atomically (SET NX) before it executes and its result
 * stored after. A claim without a result means the run was cut short (crash,
 * or BullMQ re-running a stalled job): the pipeline then resumes it, which is
 * safe because every handler is idempotent by command id (a remote dispense
 * through MachinePort pays at most once per command id).
 *
 * Both records keep the digest of the message that claimed the id
 * (digest.ts), so an identical repeat is recognised before verification.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../../shared/keys.js';
import type { CommandResult } from '../../../shared/messages.js';

export const COMMAND_RECORD_TTL_SECONDS = 35 * 86_400;

/** `digest` is absent in records written before it was kept. */
export type CommandRecord =
  | { state: 'executing'; jobId: string; at: number; digest?: string }
  | { state: 'done'; at: number; result: CommandResult; digest?: string };

export interface CommandRegistry {
  lookup(commandId: string): Promise<CommandRecord | null>;
  /** Claims the id; returns null when claimed now, else the record that was already there. */
  claim(commandId: string, jobId: string, at: number, digest: string | null): Promise<CommandRecord | null>;
  complete(commandId: string, result: CommandResult, at: number, digest: string | null): Promise<void>;
}

function decode(raw: string | null): CommandRecord | null {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as CommandRecord;
  } catch {
    // Unreadable: treat as an interrupted run rather than as unseen, so it cannot execute afresh.
    return { state: 'executing', jobId: '', at: 0 };
  }
}

export function commandRegistry(redis: Redis, keys: RedisKeys): CommandRegistry {
  return {
    async lookup(commandId) {
      return decode(await redis.get(keys.command(commandId)));
    },
    async claim(commandId, jobId, at, digest) {
      const record: CommandRecord = { state: 'executing', jobId, at, ...(digest === null ? {} : { digest }) };
      // SET NX GET (Redis ≥ 7.0): claims, or returns what holds the id, in one atomic step.
      const previous = await redis.set(keys.command(commandId), JSON.stringify(record), 'EX', COMMAND_RECORD_TTL_SECONDS, 'NX', 'GET');
      return decode(previous);
    },
    async complete(commandId, result, at, digest) {
      const record: CommandRecord = { state: 'done', at, result, ...(digest === null ? {} : { digest }) };
      await redis.set(keys.command(commandId), JSON.stringify(record), 'EX', COMMAND_RECORD_TTL_SECONDS);
    },
  };
}
