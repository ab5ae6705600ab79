/**
 * `query` (docs/protocol.md#query): publish accounting, heartbeat and/or status now,
 * or re-publish journal entries as transaction messages with their original
 * message_id (the cloud's way to recover what it missed, docs/protocol.md#the-seq-extension).
 */
import { parseTimestamp } from '../../../../shared/clock.js';
import type { QueryCommand } from '../parse.js';
import type { Handler, HandlerContext } from './context.js';

const publishHeartbeat = (ctx: HandlerContext, diagnostics: boolean) => ctx.outbox.add('heartbeat', { kind: 'heartbeat', diagnostics });

export const query: Handler<QueryCommand> = async (command, ctx) => {
  const { query_type: type, include_diagnostics: diagnostics } = command.data;
  switch (type) {
    case 'full_status': {
      await ctx.machine.publishAccounting();
      await publishHeartbeat(ctx, diagnostics);
      await ctx.machine.publishStatus();
      const machine = await ctx.machine.snapshot();
      return {
        status: 'success',
        result: {
          query_type: type,
          published: ['accounting', 'heartbeat', 'status'],
          machine_status: machine.status,
          locked: machine.locked,
          coins_remaining: machine.inventory,
        },
      };
    }
    case 'accounting':
      await ctx.machine.publishAccounting();
      return { status: 'success', result: { query_type: type, published: ['accounting'] } };
    case 'heartbeat':
      await publishHeartbeat(ctx, diagnostics);
      return { status: 'success', result: { query_type: type, published: ['heartbeat'] } };
    case 'transactions': {
      const since = command.data.since === undefined ? null : parseTimestamp(command.data.since);
      const until = command.data.until === undefined ? null : parseTimestamp(command.data.until);
      const entries = await ctx.machine.readJournal({ since, until, limit: command.data.limit });
      // Same envelope, same message_id: the cloud de-duplicates what it already has.
      for (const envelope of entries) await ctx.outbox.add('message', { kind: 'message', envelope, replay: true });
      return {
        status: 'success',
        result: {
          query_type: type,
          count: entries.length,
          transaction_ids: entries.map((e) => e.data.transaction_id ?? null),
          message_ids: entries.map((e) => e.message_id),
        },
      };
    }
  }
};
