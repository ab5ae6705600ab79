/**
 * The `outbox` queue's processor (business → mqtt). A job completes once its
 * message is durably in the delivery state (ACK-required types) or has been
 * published or counted as skipped (heartbeat, status, command results:
 * never buffered, docs/protocol.md#offline-buffer).
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { CommandResult, Envelope } from '../../shared/messages.js';
import { outboxJobSchema } from '../../queue/jobs.js';

export interface OutboxHandlers {
  /** `replay`: a journal entry re-published by a `transactions` query; sent again even if it was settled or given up. */
  message(envelope: Envelope, replay: boolean): Promise<void>;
  commandResult(result: CommandResult): Promise<void>;
  heartbeat(diagnostics: boolean): Promise<void>;
}

export function outboxProcessor(h: OutboxHandlers): (job: Job) => Promise<void> {
  return async (job) => {
    const parsed = outboxJobSchema.safeParse(job.data);
    // A malformed job can never succeed: fail it for inspection instead of retrying.
    if (!parsed.success) throw new UnrecoverableError(`invalid outbox job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const j = parsed.data;
    switch (j.kind) {
      case 'message':
        return h.message(j.envelope, j.replay === true);
      case 'command_result':
        return h.commandResult(j.result);
      case 'heartbeat':
        return h.heartbeat(j.diagnostics);
      default:
        return assertNever(j);
    }
  };
}

function assertNever(x: never): never {
  throw new UnrecoverableError(`unknown outbox job ${JSON.stringify(x)}`);
}
