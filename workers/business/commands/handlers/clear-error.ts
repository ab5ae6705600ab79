/**
 * `clear_error` (docs/commands.md "Error 51"): a person's decision about
 * error 51 and the coins in doubt — `coins_paid` true writes the debt off
 * (the coins left the hopper), false lets the machine pay it, absent only
 * clears 51 and pays nothing. One atomic write, recorded in the journal.
 */
import type { ClearErrorCommand } from '../parse.js';
import type { Handler } from './context.js';

export const clearError: Handler<ClearErrorCommand> = async (command, ctx) => {
  const { coins_paid: paid, operator_id: operator, reason } = command.data;
  const r = await ctx.machine.decideDoubt({ commandId: command.command_id, choice: paid === undefined ? null : paid ? 'paid' : 'not_paid', operator: operator ?? null, reason: reason ?? null });
  return {
    status: 'success',
    result: {
      error_code: 51,
      resolution: r.choice ?? 'none',
      coins_in_doubt: r.coinsInDoubt,
      debt_written_off: r.debtWrittenOff,
      debt_to_pay: r.debtToPay,
      debt_coins: r.debtAfter,
    },
  };
};
