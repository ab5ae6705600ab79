/** The command dispatcher: one handler per command type (docs/architecture.md#one-handler-per-message-type, as MQTT.js `handlers/index.ts`). */
import type { Command } from '../parse.js';
import { clearError } from './clear-error.js';
import { coinDispense } from './coin-dispense.js';
import { config } from './config.js';
import type { HandlerContext, HandlerOutcome } from './context.js';
import { lock } from './lock.js';
import { query } from './query.js';
import { restart } from './restart.js';

export function dispatch(command: Command, ctx: HandlerContext): Promise<HandlerOutcome> {
  switch (command.command_type) {
    case 'coin_dispense':
      return coinDispense(command, ctx);
    case 'restart':
      return restart(command, ctx);
    case 'lock':
      return lock(command, ctx);
    case 'query':
      return query(command, ctx);
    case 'config':
      return config(command, ctx);
    case 'clear_error':
      return clearError(command, ctx);
    default:
      return assertNever(command);
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled command type ${JSON.stringify(x)}`);
}
