/**
 * `coin_dispense` (docs/protocol.md#coin_dispense): pays coins on the cloud's order, within
 * the per-command and per-day limits, never when locked, faulted, open or
 * short of coins by the books (a level the books do not know refuses
 * nothing). The payout itself (serialised with exchange payouts,
 * status 3, the remote_dispense transaction and accounting) is the
 * machine's: MachinePort.remoteDispense, at most once per command id.
 */
import { localDay } from '../../../../shared/clock.js';
import { isCritical } from '../../../../shared/codes.js';
import { CommandError } from '../../../../shared/errors.js';
import { dispenseQuota } from '../dispense-quota.js';
import type { CoinDispenseCommand } from '../parse.js';
import type { Handler } from './context.js';

export const coinDispense: Handler<CoinDispenseCommand> = async (command, ctx) => {
  const coins = command.data.coins_to_dispense;
  const quota = dispenseQuota(ctx.redis);
  const dayKey = ctx.keys.dispenseQuota(localDay(ctx.clock.now(), ctx.config.timezone));
  // Only a payout already queued for this command id skips the checks: its coins are the machine's now
  // (it may have changed the inventory). A run cut short before that is checked and counted like a new one.
  if (!(ctx.resumed && (await ctx.machine.dispenseQueued(command.command_id)))) {
    if (ctx.expired) throw ctx.expired;
    const settings = await ctx.settings();
    if (coins > settings.dispenseMaxPerCommand) {
      throw new CommandError('LIMIT_EXCEEDED', `${coins} coins requested, at most ${settings.dispenseMaxPerCommand} per command`);
    }
    const machine = await ctx.machine.snapshot();
    if (machine.locked) throw new CommandError('MACHINE_LOCKED');
    const critical = machine.activeErrors.filter(isCritical);
    if (critical.length > 0) throw new CommandError('MACHINE_FAULT', `active fault ${critical.join(', ')}`);
    if (machine.doorOpen) throw new CommandError('MACHINE_FAULT', '前門開啟 (door open)');
    // An unknown level (a hopper that does not count) does not refuse: the hopper pays what it has and the result says what it paid.
    if (machine.inventoryKnown && machine.inventory < coins) throw new CommandError('INSUFFICIENT_COINS', `${coins} requested, ${machine.inventory} in the hopper`);
    // Per command id: a resumed run that reserved before its crash is not counted twice.
    const { reserved, total } = await quota.reserve(dayKey, command.command_id, coins, settings.dispenseMaxPerDay);
    if (!reserved) {
      throw new CommandError('LIMIT_EXCEEDED', `${coins} more coins would pass today's limit of ${settings.dispenseMaxPerDay} (${total} dispensed)`);
    }
  }
  let outcome;
  try {
    outcome = await ctx.machine.remoteDispense({
      commandId: command.command_id,
      coins,
      operatorAccount: command.data.operator_account ?? null,
      reason: command.data.reason ?? null,
      deadline: ctx.deadline,
    });
  } catch (err) {
    // A refusal by the machine paid nothing; after any other error the payout's fate is unknown, so the coins stay counted.
    if (err instanceof CommandError) await quota.settle(dayKey, command.command_id, 0);
    throw err;
  }
  await quota.settle(dayKey, command.command_id, outcome.coinsDispensed);
  const result = {
    coins_dispensed: outcome.coinsDispensed,
    execution_time_ms: outcome.executionTimeMs,
    coins_remaining: outcome.coinsRemaining,
    transaction_id: outcome.transactionId,
  };
  if (outcome.success) return { status: 'success', result };
  const short = new CommandError('HARDWARE_FAILURE', `${outcome.coinsDispensed} of ${coins} coins paid`);
  return { status: 'failed', result: { ...short.toResult(), ...result, coins_unpaid: outcome.coinsUnpaid } };
};
