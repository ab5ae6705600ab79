/**
 * Protocol message schemas (docs/protocol.md#3-envelope to docs/protocol.md#7-commands), one source for types and
 * validation. Outbound `data` schemas are used by tests and by the cloud
 * simulator to check what the device sends; inbound ones guard every
 * boundary where MQTT hands over `unknown`.
 */
import { z } from 'zod';
import { outboundTypes } from './topics.js';

export const timestampSchema = z.union([z.number().int().nonnegative(), z.string().datetime({ offset: true })]);

export const envelopeSchema = z.object({
  timestamp: timestampSchema,
  device_id: z.string().min(1),
  message_id: z.string().uuid(),
  message_type: z.enum(outboundTypes),
  version: z.string(),
  seq: z.number().int().positive().optional(),
  data: z.record(z.string(), z.unknown()),
});
export type Envelope = z.infer<typeof envelopeSchema>;

const counters = z.object({
  total_bills: z.number().int().nonnegative(),
  total_coins: z.number().int().nonnegative(),
  total_dispensed: z.number().int().nonnegative(),
  remote_dispensed: z.number().int().nonnegative(),
  bonus_coins: z.number().int().nonnegative(),
});

export const transactionDataSchema = z.object({
  /** `debt_payout`: coins an earlier exchange owed, paid later; `transaction_id` is that exchange's (docs/cloud-interop.md). */
  transaction_type: z.enum(['exchange', 'remote_dispense', 'debt_payout']),
  transaction_id: z.string().regex(/^(TXN|REMOTE)_\d{8}_\d{6}_\d{3,}$/),
  command_id: z.string().optional(),
  amounts: z.object({
    bills_inserted: z.number().int().nonnegative(),
    coins_inserted: z.number().int().nonnegative(),
    coins_dispensed: z.number().int().nonnegative(),
    transaction_amount: z.number().int().nonnegative(),
    coin_value: z.literal(10),
  }),
  balance: z.object({ before: z.number().int(), after: z.number().int() }),
  timing: z.object({ start_time: timestampSchema, dispense_time: timestampSchema, duration_ms: z.number().int().nonnegative() }),
  remote_details: z
    .object({ operator_account: z.string().nullable(), coins_dispensed: z.number().int().nonnegative(), reason: z.string().nullable() })
    .optional(),
  success: z.boolean(),
  debt_coins: z.number().int().nonnegative().optional(),
});
export type TransactionData = z.infer<typeof transactionDataSchema>;

export const accountingDataSchema = z.object({
  machine_status: z.union([z.literal(0), z.literal(1), z.literal(3), z.literal(4)]),
  status_description: z.string(),
  counters,
  current_state: z.object({ debt_coins: z.number().int().nonnegative(), balance: z.number().int().nonnegative() }),
  codes: z.object({ alarm_code: z.number().int().nonnegative(), error_code: z.number().int().nonnegative() }),
  report: z.literal('daily_close').optional(),
  daily: z.record(z.string(), z.unknown()).optional(),
});
export type AccountingData = z.infer<typeof accountingDataSchema>;

const serviceState = z.enum(['operational', 'degraded', 'offline', 'fault']);
export const heartbeatDataSchema = z.object({
  status: z.enum(['online', 'degraded', 'offline']),
  firmware_version: z.string(),
  uptime_seconds: z.number().int().nonnegative(),
  last_transaction: timestampSchema.describe('when the last transaction ended; 0 = none yet'),
  network_quality: z.enum(['excellent', 'good', 'fair', 'poor']),
  system_health: z.object({
    cpu_usage: z.number().min(0).max(100),
    memory_usage: z.number().min(0).max(100),
    storage_usage: z.number().min(0).max(100),
    temperature: z.number().describe('°C; 0 when the board has no sensor'),
  }),
  service_status: z.object({ coin_acceptor: serviceState, bill_acceptor: serviceState, dispenser: serviceState, display: serviceState }),
  active_issues: z.array(z.unknown()),
  statistics: z.object({
    transactions_today: z.number().int().nonnegative(),
    coins_dispensed_today: z.number().int().nonnegative(),
    error_count_today: z.number().int().nonnegative(),
    last_maintenance: timestampSchema.describe('when maintenance was last recorded; 0 = none yet'),
  }),
  diagnostics: z.record(z.string(), z.unknown()).optional(),
});
export type HeartbeatData = z.infer<typeof heartbeatDataSchema>;

const codeState = z.enum(['raised', 'cleared']);

export const errorDataSchema = z.object({
  error_code: z.number().int().nonnegative(),
  error_description: z.string(),
  error_category: z.enum(['system', 'counter', 'config', 'coin_acceptor', 'bill_acceptor', 'dispenser', 'ledger', 'security']),
  severity: z.enum(['critical', 'high', 'medium']),
  suggested_action: z.string(),
  auto_recoverable: z.boolean(),
  affected_functions: z.array(z.string()),
  context: z.record(z.string(), z.unknown()),
  impact: z.object({
    service_available: z.boolean(),
    /** The guide's words (docs/cloud-interop.md): never a number or null. */
    estimated_downtime: z.enum(['immediate_action_required', 'unknown']),
  }),
  state: codeState,
  security: z.object({ suspected_attack: z.boolean(), auto_locked: z.boolean() }).optional(),
  recovery: z.object({ automatic: z.boolean(), condition: z.string().nullable(), recovered: z.boolean() }).optional(),
});
export type ErrorData = z.infer<typeof errorDataSchema>;

export const alarmDataSchema = z.object({
  alarm_code: z.number().int().nonnegative(),
  alarm_description: z.string(),
  severity: z.enum(['warning', 'info']),
  current_level: z.union([z.number(), z.string()]).nullable(),
  recommended_action: z.string(),
  details: z.record(z.string(), z.unknown()),
  impact: z.object({ service_available: z.boolean() }),
  state: codeState,
});
export type AlarmData = z.infer<typeof alarmDataSchema>;

/** `null` is the same as absent (docs/cloud-interop.md): Python's `None`, JavaScript's `null`. */
const nullable = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]).optional();
const ackId = z.string().min(1).max(200);

/**
 * Cloud → device ACK (docs/protocol.md#cloud-ack, dialects in docs/cloud-interop.md).
 * Liberal: `message_id` stands in for an absent `ack_message_id`, `status` may
 * be any word or absent, any optional field may be `null`, and `timestamp`
 * is not used (integer, numeric string, ISO 8601 or absent are all fine).
 * The verdict (settle or failed) is `ackVerdict` in workers/mqtt/inbound/ack.ts.
 */
export const cloudAckSchema = z
  .object({
    timestamp: z.unknown().optional().describe('not used by the device: Unix seconds, a numeric string, ISO 8601, null or absent'),
    ack_message_id: nullable(ackId),
    message_id: nullable(ackId),
    status: nullable(z.string().max(100)).describe('received/processed/success settle; error/failed/fail/nack (any case) do not; absent or null = received; any other word settles and is counted'),
    error_message: nullable(z.string().max(10_000)),
    result: z.unknown().optional(),
  })
  .refine((a) => (a.ack_message_id ?? a.message_id) != null, { message: 'ack_message_id is required' });
export type CloudAck = z.infer<typeof cloudAckSchema>;

/** Device → cloud command result on `…/commands/{id}/ack` (docs/protocol.md#command-result); no envelope. */
export const commandResultSchema = z.object({
  timestamp: timestampSchema,
  device_id: z.string(),
  ack_command_id: z.string(),
  command_type: z.string(),
  status: z.enum(['success', 'failed']),
  result: z.record(z.string(), z.unknown()),
});
export type CommandResult = z.infer<typeof commandResultSchema>;
