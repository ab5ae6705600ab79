/**
 * Command validation (docs/protocol.md#7-commands): one zod schema per command type. The
 * input has passed the shape limits (limits.ts); the output is a typed
 * command or a refusal naming the offending field. Runs in the verification
 * pool (auth/verify-worker.ts) and is pure, so tests call it directly too.
 */
import { z } from 'zod';
import { parseTimestamp } from '../../../shared/clock.js';
import { commandTypes, type CommandType } from '../../../shared/topics.js';
import { foldDialects } from './lenient.js';

/** printable ASCII, no spaces: it becomes part of a Redis key and is echoed in results. */
const commandId = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'expected 1 to 128 printable ASCII characters without spaces');
/** Unix seconds or ISO 8601, either form (docs/protocol.md#3-envelope). */
const timestamp = z
  .union([z.number().nonnegative(), z.string().max(64)])
  .refine((v) => parseTimestamp(v) !== null, 'expected Unix seconds or an ISO 8601 date-time');
const text = (max: number) => z.string().max(max).nullable().optional();
/** Seconds after `timestamp` (or receipt) at which the command lapses. */
const timeoutSeconds = z.number().positive().max(86_400).optional();

/** A hard sanity bound above any configurable per-command limit (which yields LIMIT_EXCEEDED instead). */
export const MAX_COINS_PER_COMMAND = 100_000;

const dataSchemas = {
  coin_dispense: z.object({
    coins_to_dispense: z.number().int().min(1).max(MAX_COINS_PER_COMMAND),
    coin_value: z.literal(10).optional(),
    timeout_seconds: timeoutSeconds,
    reason: text(500),
    operator_account: text(200),
  }),
  restart: z.object({
    restart_type: z.enum(['soft', 'hard']).default('soft'),
    delay_seconds: z.number().min(0).max(3_600).default(0),
    timeout_seconds: timeoutSeconds,
    reason: text(500),
    operator_id: text(200),
  }),
  lock: z.object({
    action: z.enum(['lock', 'unlock']),
    /** Fractional minutes are allowed (tests scale time down). */
    duration_minutes: z.number().positive().max(366 * 24 * 60).nullable().optional(),
    timeout_seconds: timeoutSeconds,
    reason: text(500),
    operator_id: text(200),
    message_display: text(200),
  }),
  query: z
    .object({
      query_type: z.enum(['full_status', 'accounting', 'heartbeat', 'transactions']).default('full_status'),
      since: timestamp.optional(),
      until: timestamp.optional(),
      limit: z.number().int().min(1).max(100).default(100),
      include_diagnostics: z.boolean().default(false),
      timeout_seconds: timeoutSeconds,
    })
    .refine((d) => d.since === undefined || d.until === undefined || parseTimestamp(d.since)! <= parseTimestamp(d.until)!, {
      message: 'since must not be after until',
      path: ['since'],
    }),
  /** Settings are checked one by one in the handler, so one bad value does not reject the rest. */
  config: z
    .object({
      timeout_seconds: timeoutSeconds,
      reason: text(500),
      operator_id: text(200),
    })
    .catchall(z.unknown()),
  /** Error 51 and its coins in doubt (docs/commands.md "Error 51"): absent `coins_paid` clears 51 and pays nothing. */
  clear_error: z.object({
    error_code: z.literal(51),
    coins_paid: z.boolean().optional(),
    timeout_seconds: timeoutSeconds,
    reason: text(500),
    operator_id: text(200),
  }),
} satisfies Record<CommandType, z.ZodType>;

const envelopeFields = {
  command_id: commandId,
  timestamp: timestamp.optional(),
  requires_ack: z.boolean().default(true),
  /** Accepted and ignored: commands run in arrival order (dispenses in their own lane, commands/index.ts). */
  priority: z.union([z.string().max(32), z.number()]).optional(),
  signature: z.string().max(256).optional(),
};

/** One schema per command type, also published as JSON Schema (docs/schemas/). */
export const commandSchemas = {
  coin_dispense: z.object({ ...envelopeFields, command_type: z.literal('coin_dispense'), data: dataSchemas.coin_dispense }),
  restart: z.object({ ...envelopeFields, command_type: z.literal('restart'), data: dataSchemas.restart.default({ restart_type: 'soft', delay_seconds: 0 }) }),
  lock: z.object({ ...envelopeFields, command_type: z.literal('lock'), data: dataSchemas.lock }),
  query: z.object({
    ...envelopeFields,
    command_type: z.literal('query'),
    data: dataSchemas.query.default({ query_type: 'full_status', limit: 100, include_diagnostics: false }),
  }),
  config: z.object({ ...envelopeFields, command_type: z.literal('config'), data: dataSchemas.config }),
  clear_error: z.object({ ...envelopeFields, command_type: z.literal('clear_error'), data: dataSchemas.clear_error }),
};

export type CoinDispenseCommand = z.infer<typeof commandSchemas.coin_dispense>;
export type RestartCommand = z.infer<typeof commandSchemas.restart>;
export type LockCommand = z.infer<typeof commandSchemas.lock>;
export type QueryCommand = z.infer<typeof commandSchemas.query>;
export type ConfigCommand = z.infer<typeof commandSchemas.config>;
export type ClearErrorCommand = z.infer<typeof commandSchemas.clear_error>;
export type Command = CoinDispenseCommand | RestartCommand | LockCommand | QueryCommand | ConfigCommand | ClearErrorCommand;

export type ParseOutcome =
  | { ok: true; command: Command }
  | { ok: false; code: 'INVALID_COMMAND' | 'UNKNOWN_COMMAND'; detail: string };

const isCommandType = (v: unknown): v is CommandType => typeof v === 'string' && (commandTypes as readonly string[]).includes(v);

/** Validates `body` received on a topic whose last segment is `topicType`. */
export function parseCommand(topicType: string, raw: unknown): ParseOutcome {
  const body = foldDialects(raw);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, code: 'INVALID_COMMAND', detail: 'payload must be a JSON object' };
  const declared = (body as Record<string, unknown>).command_type;
  if (!isCommandType(topicType)) return { ok: false, code: 'UNKNOWN_COMMAND', detail: `topic: unknown command type "${topicType.slice(0, 64)}"` };
  if (declared === undefined) return { ok: false, code: 'INVALID_COMMAND', detail: 'command_type: required' };
  if (typeof declared !== 'string') return { ok: false, code: 'INVALID_COMMAND', detail: 'command_type: expected a string' };
  if (!isCommandType(declared)) return { ok: false, code: 'UNKNOWN_COMMAND', detail: `command_type: unknown command type "${declared.slice(0, 64)}"` };
  if (declared !== topicType) return { ok: false, code: 'INVALID_COMMAND', detail: `command_type: "${declared}" does not match the topic's "${topicType}"` };
  const parsed = commandSchemas[topicType].safeParse(body);
  if (parsed.success) return { ok: true, command: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'payload';
  return { ok: false, code: 'INVALID_COMMAND', detail: `${field}: ${issue.message}` };
}
