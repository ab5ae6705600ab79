/**
 * `lock` (docs/protocol.md#lock): lock or unlock the machine. The machine persists
 * the lock (it survives restarts), turns the acceptors off, shows the
 * message, raises alarm 3, and unlocks itself at `duration_minutes`.
 */
import type { LockCommand } from '../parse.js';
import type { Handler } from './context.js';

/** What a lock puts out of service (docs/protocol.md#lock: bills, coins and remote dispense are refused). */
export const lockedServices = ['bill_accept', 'coin_accept', 'exchange', 'coin_dispense'] as const;

export const lock: Handler<LockCommand> = async (command, ctx) => {
  const { action, duration_minutes: minutes, reason, operator_id: operatorId, message_display: messageDisplay } = command.data;
  const now = ctx.clock.now();
  if (action === 'unlock') {
    await ctx.machine.setLock({ locked: false, reason: reason ?? null, operatorId: operatorId ?? null, until: null, messageDisplay: null });
    return {
      status: 'success',
      result: { action_completed: 'unlock', lock_start_time: null, lock_end_time: ctx.timestamp(now), services_disabled: [] },
    };
  }
  const until = minutes ? now + Math.round(minutes * 60_000) : null;
  await ctx.machine.setLock({ locked: true, reason: reason ?? null, operatorId: operatorId ?? null, until, messageDisplay: messageDisplay ?? null });
  return {
    status: 'success',
    result: {
      action_completed: 'lock',
      lock_start_time: ctx.timestamp(now),
      lock_end_time: until === null ? null : ctx.timestamp(until),
      services_disabled: [...lockedServices],
    },
  };
};
