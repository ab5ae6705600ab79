/**
 * `restart` (docs/protocol.md#restart). The result goes out first; the restart itself
 * (pipeline `after`) waits for any exchange in progress, then the
 * `delay_seconds`, then asks the supervisor app through the Redis list
 * `keys.restartRequests`: `soft` restarts every agent process through PM2,
 * `hard` reboots the board and is only permitted when configured.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineStatus } from '../../../../shared/codes.js';
import { CommandError } from '../../../../shared/errors.js';
import { pushRestartRequest } from '../../../../shared/restart-request.js';
import type { RestartCommand } from '../parse.js';
import { activeTransactions } from './active-transactions.js';
import type { Handler } from './context.js';

/** Rough time until the agent reports again, for `expected_boot_time`, ms. */
const expectedDowntimeMs = { soft: 15_000, hard: 120_000 } as const;

export const restart: Handler<RestartCommand> = async (command, ctx) => {
  const { restart_type: type, delay_seconds: delaySeconds, reason } = command.data;
  if (type === 'hard' && !ctx.config.allowHardRestart) {
    throw new CommandError('NOT_PERMITTED', 'hard restart is disabled (COINEREX_ALLOW_HARD_RESTART)');
  }
  const machine = await ctx.machine.snapshot();
  const busy = machine.status === machineStatus.remote || machine.status === machineStatus.inquiry;
  const paying = await activeTransactions(ctx.redis, ctx.keys);
  const shutdownAt = ctx.clock.now() + delaySeconds * 1000;
  return {
    status: 'success',
    result: {
      restart_initiated: true,
      restart_type: type,
      shutdown_time: ctx.timestamp(shutdownAt),
      expected_boot_time: ctx.timestamp(shutdownAt + expectedDowntimeMs[type]),
      active_transactions: Math.max(paying, busy ? 1 : 0),
    },
    after: async (signal) => {
      await ctx.machine.whenIdle();
      if (delaySeconds > 0) await sleep(delaySeconds * 1000, undefined, { signal });
      if (signal.aborted) return;
      const request = {
        requestId: randomUUID(),
        at: ctx.clock.now(),
        reason: reason ?? `${type} restart by command ${command.command_id}`,
        type,
        commandId: command.command_id,
      };
      await pushRestartRequest(ctx.redis, ctx.keys, request);
      ctx.log.warn({ request }, 'restart requested');
    },
  };
};
