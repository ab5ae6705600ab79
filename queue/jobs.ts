/**
 * Job payloads of every queue: one schema each, with inferred types. A job
 * read from Redis is `unknown` until parsed here.
 */
import { z } from 'zod';
import { billAmountSchema, cashAmountSchema, cashAmounts, coinAmountSchema } from '../shared/cash.js';
import { commandResultSchema, envelopeSchema } from '../shared/messages.js';
import { payoutEndReasons } from '../shared/physical-truth.js';

const id = z.string().min(1).max(200);

// ---- hw-events (hardware → business) --------------------------------------
const base = { eventId: id, at: z.number().int().nonnegative() };
/** Hopper level from the inventory count and the low-level sensor. */
const hopperLevelSchema = z.object({ coins: z.number().int().nonnegative(), lowSensor: z.boolean() });

export const hwEventSchema = z.discriminatedUnion('kind', [
  /** A bill was stacked in the cash box. */
  z.object({ ...base, kind: z.literal('bill_accepted'), amount: billAmountSchema }),
  /** A coin was accepted. */
  z.object({ ...base, kind: z.literal('coin_accepted'), amount: coinAmountSchema }),
  /**
   * A hardware event the agent cannot map (a bill or coin of a value that is
   * not NTD, a malformed payout report): recorded as a fault, its cash (if
   * any, `amount` NTD) counted in the books, never left unacknowledged.
   */
  z.object({
    ...base,
    kind: z.literal('unmapped'),
    /** The hardware's own kind of the event (`bill`, `coin`, a kind code…). */
    source: z.string().min(1).max(64),
    /** NTD the event says went into the cash box, when it is cash. */
    amount: z.number().int().nonnegative().max(1_000_000).optional(),
    /** The event as the hardware sent it, for the person who clears the fault. */
    detail: z.string().max(1000),
  }),
  /** The hardware confirmed a `set_acceptors`: the acceptors' state now. */
  z.object({ ...base, kind: z.literal('acceptors_set'), enabled: z.boolean(), inhibit: z.array(cashAmountSchema) }),
  /** Coins paid so far for a payout. */
  z.object({ ...base, kind: z.literal('payout_progress'), payoutId: id, requested: z.number().int().nonnegative(), paid: z.number().int().nonnegative() }),
  /** A payout ended: fully paid, or cut short (hopper empty, jam). */
  z.object({
    ...base,
    kind: z.literal('payout_done'),
    payoutId: id,
    requested: z.number().int().nonnegative(),
    paid: z.number().int().nonnegative(),
    unpaid: z.number().int().nonnegative(),
    reason: z.enum(payoutEndReasons),
    /**
     * The hopper level after the payout, when the hardware knows it: saves a
     * separate `hopper_level` event (a BullMQ job and a business follow-up) per payout.
     */
    hopper: hopperLevelSchema.optional(),
  }),
  z.object({ ...base, kind: z.literal('fault_raised'), code: z.number().int(), context: z.record(z.string(), z.unknown()).optional() }),
  z.object({ ...base, kind: z.literal('fault_cleared'), code: z.number().int() }),
  z.object({ ...base, kind: z.literal('door'), open: z.boolean() }),
  z.object({ ...base, kind: z.literal('hopper_level'), ...hopperLevelSchema.shape }),
  z.object({ ...base, kind: z.literal('hopper_empty') }),
  z.object({ ...base, kind: z.literal('link'), up: z.boolean() }),
  /** Answer to a `report_status` command. `payouts` lists what the hardware knows of recent payouts. */
  z.object({
    ...base,
    kind: z.literal('status_report'),
    requestId: id,
    inventory: z.number().int().nonnegative().nullable(),
    doorOpen: z.boolean(),
    acceptorsEnabled: z.boolean(),
    /** `reason`: why a done payout ended, when the hardware keeps it (`in_doubt` must not be read as an interruption). */
    payouts: z.array(
      z.object({ payoutId: id, requested: z.number().int().nonnegative(), paid: z.number().int().nonnegative(), done: z.boolean(), reason: z.enum(payoutEndReasons).optional() }),
    ),
    /**
     * true: every payout this hardware accepted is in its durable records, so one missing from `payouts`
     * never reached it and may be issued again even without an inventory. Absent: not claimed.
     */
    recordsIntact: z.boolean().optional(),
  }),
]);
export type HwEvent = z.infer<typeof hwEventSchema>;
export type HwEventKind = HwEvent['kind'];

/**
 * The `hw-events` job id of an event: BullMQ ignores an add whose job id
 * still exists, so a re-delivered event does not queue twice. Job ids must not
 * be all digits nor contain ':' (docs/pitfalls.md#1-bullmq); the mapping is one-to-one.
 */
export function hwEventJobId(eventId: string): string {
  return `hw-${eventId.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
}

// ---- hw-commands (business → hardware) -------------------------------------
export const hwCommandSchema = z.discriminatedUnion('kind', [
  /**
   * Pay out `coins`. Idempotent by payoutId: the hardware never pays the same
   * payoutId twice; a repeat only reports what was paid.
   */
  z.object({ kind: z.literal('payout'), payoutId: id, coins: z.number().int().positive().max(100_000) }),
  /** Acceptors on or off; `inhibit`: denominations refused at the acceptor even when on (absent: none). */
  z.object({ kind: z.literal('set_acceptors'), enabled: z.boolean(), inhibit: z.array(cashAmountSchema).max(cashAmounts.length).optional() }),
  z.object({ kind: z.literal('display'), text: z.string().max(500) }),
  z.object({ kind: z.literal('report_status'), requestId: id }),
]);
export type HwCommand = z.infer<typeof hwCommandSchema>;

// ---- outbox (business → mqtt) ----------------------------------------------
export const outboxJobSchema = z.discriminatedUnion('kind', [
  /** A device message in its envelope; ACK-required types are tracked (docs/protocol.md#4-ack-and-retransmission). */
  z.object({
    kind: z.literal('message'),
    envelope: envelopeSchema,
    /**
     * Re-published on the cloud's request (query `transactions`): send it even
     * if this message_id was settled, given up or dropped before (docs/protocol.md#offline-buffer
     * "recoverable by a transactions query"). Absent on first publication.
     */
    replay: z.literal(true).optional(),
  }),
  /** A command result (no envelope, no ACK). */
  z.object({ kind: z.literal('command_result'), result: commandResultSchema }),
  /** Ask the mqtt app to build and send a heartbeat now (query command). */
  z.object({ kind: z.literal('heartbeat'), diagnostics: z.boolean() }),
]);
export type OutboxJob = z.infer<typeof outboxJobSchema>;

// ---- commands (mqtt → business) --------------------------------------------
export const commandJobSchema = z.object({
  topic: z.string(),
  /** The topic's last segment. */
  commandType: z.string(),
  receivedAt: z.number().int().nonnegative(),
  /** Size of the MQTT payload in bytes. */
  bytes: z.number().int().nonnegative(),
  /** The parsed JSON payload, not yet validated. */
  body: z.unknown(),
});
export type CommandJob = z.infer<typeof commandJobSchema>;

// ---- control (CLI → hardware simulator) ------------------------------------
export const controlJobSchema = z.discriminatedUnion('action', [
  /** `stray`: an acceptor that takes it even while disabled or inhibited (a fault the agent must still book). */
  z.object({ action: z.literal('bill'), amount: billAmountSchema, stray: z.boolean().optional() }),
  z.object({ action: z.literal('coin'), amount: coinAmountSchema, stray: z.boolean().optional() }),
  z.object({ action: z.literal('fault'), code: z.number().int() }),
  z.object({ action: z.literal('clear'), code: z.number().int() }),
  z.object({ action: z.literal('door'), open: z.boolean() }),
  z.object({ action: z.literal('refill'), coins: z.number().int().positive().max(100_000) }),
  z.object({ action: z.literal('jam') }),
  /** The board loses power during the next payout, after all its coins (`paid`) or before any: it forgets the payout and its count. */
  z.object({ action: z.literal('power_cut'), paid: z.boolean() }),
]);
export type ControlJob = z.infer<typeof controlJobSchema>;
