/**
 * Command results (docs/protocol.md#command-result): the message on `…/commands/{id}/ack`,
 * handed to the mqtt app through the outbox queue.
 */
import type { Job, Queue } from 'bullmq';
import { formatTimestamp, type Clock, type TimestampFormat } from '../../../shared/clock.js';
import type { CommandResult } from '../../../shared/messages.js';
import type { OutboxJob } from '../../../queue/jobs.js';

export interface ResultContext {
  deviceId: string;
  timestampFormat: TimestampFormat;
  clock: Clock;
}

export function buildResult(
  ctx: ResultContext,
  commandId: string,
  commandType: string,
  status: CommandResult['status'],
  result: Record<string, unknown>,
): CommandResult {
  return {
    timestamp: formatTimestamp(ctx.clock.now(), ctx.timestampFormat),
    device_id: ctx.deviceId,
    ack_command_id: commandId,
    command_type: commandType,
    status,
    result,
  };
}

export function publishResult(outbox: Queue<OutboxJob>, result: CommandResult): Promise<Job<OutboxJob>> {
  return outbox.add('command_result', { kind: 'command_result', result });
}

/**
 * Resolves true once the mqtt app has processed `job` (published the result),
 * false at the deadline. A job already trimmed from Redis counts as processed.
 */
export async function waitProcessed(job: Job<OutboxJob>, timeoutMs: number, signal?: AbortSignal, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal?.aborted) {
    const state = await job.getState();
    if (state === 'completed' || state === 'failed' || state === 'unknown') return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return false;
}
