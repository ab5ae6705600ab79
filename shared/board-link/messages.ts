/**
 * The board-link messages (docs/board-link.md §3–§5): one type byte each,
 * one codec each. Requests have types below 0x80; the answer to request T is
 * T | 0x80 or `error`. `event` is the board's request, `event_ack` the
 * agent's answer.
 */
import { cashAmounts, type CashAmount } from '../cash.js';
import { payoutEndReasons, type PayoutEndReason } from '../physical-truth.js';
import { PayloadError, Reader, Writer } from './wire.js';

export const PROTOCOL_VERSION = 1;
/** payout ids travel as str8; 64 bytes keeps a STATUS answer with several payouts inside MAX_PAYLOAD. */
export const MAX_PAYOUT_ID_BYTES = 64;
/** Display text beyond this is cut (at a character boundary) by the sender. */
export const MAX_DISPLAY_BYTES = 512;
/** `inventory` value meaning "the board does not count its coins". */
export const INVENTORY_UNKNOWN = 0xffff_ffff;

export const payoutStates = ['queued', 'paying', 'done'] as const;
export type PayoutState = (typeof payoutStates)[number];

export interface PayoutRecord {
  payoutId: string;
  state: PayoutState;
  requested: number;
  paid: number;
  /** Set once `state` is `done`. */
  reason: PayoutEndReason | null;
}

export type BoardEvent =
  | { kind: 'bill'; amount: number }
  | { kind: 'coin'; amount: number }
  | { kind: 'payout_progress'; payoutId: string; requested: number; paid: number }
  | { kind: 'payout_done'; payoutId: string; requested: number; paid: number; reason: PayoutEndReason }
  | { kind: 'fault_raised'; code: number }
  | { kind: 'fault_cleared'; code: number }
  | { kind: 'door'; open: boolean }
  | { kind: 'hopper_level'; coins: number; lowSensor: boolean }
  | { kind: 'hopper_empty' };
export type BoardEventKind = BoardEvent['kind'];

/** `set_acceptors` inhibit mask: bit i refuses cashAmounts[i] (1, 5, 10, 50, 100, 200, 500, 1000, 2000 NTD). */
export function inhibitMask(amounts: readonly number[]): number {
  return cashAmounts.reduce((mask, amount, i) => (amounts.includes(amount) ? mask | (1 << i) : mask), 0);
}

export function inhibitAmounts(mask: number): CashAmount[] {
  if (mask >> cashAmounts.length !== 0) throw new PayloadError(`inhibit mask 0x${mask.toString(16)} has unknown bits`);
  return cashAmounts.filter((_, i) => (mask & (1 << i)) !== 0);
}

export const boardErrorCodes = { unknown_type: 1, bad_payload: 2, refused: 3 } as const;
export type BoardErrorCode = keyof typeof boardErrorCodes;

export interface StatusReply {
  inventory: number | null;
  doorOpen: boolean;
  acceptorsEnabled: boolean;
  lowSensor: boolean;
  /** The last event id the board assigned. */
  eventCounter: number;
  /** Events the agent has not ACKed yet. */
  pendingEvents: number;
  faults: number[];
  payouts: PayoutRecord[];
}

/** A message without fields. */
type Empty = Record<never, never>;

/** Every message by name, without the frame's seq. */
export interface Messages {
  hello: { nonce: number; version: number };
  ping: Empty;
  payout: { payoutId: string; coins: number };
  /** `inhibit`: denominations refused even when enabled. */
  set_acceptors: { enabled: boolean; inhibit: CashAmount[] };
  display: { text: string };
  status: { maxPayouts: number };
  event: { eventId: number; ageMs: number; event: BoardEvent };

  hello_reply: { version: number; boardId: string; eventCounter: number };
  pong: Empty;
  payout_reply: { known: boolean; payout: PayoutRecord };
  set_acceptors_reply: Empty;
  display_reply: Empty;
  status_reply: StatusReply;
  event_ack: { eventId: number };
  error: { code: BoardErrorCode; detail: string };
}
export type MessageName = keyof Messages;
export type Message = { [K in MessageName]: { name: K } & Messages[K] }[MessageName];
export type MessageOf<K extends MessageName> = { name: K } & Messages[K];

interface Codec<T> {
  code: number;
  write(w: Writer, m: T): void;
  read(r: Reader): T;
}
type Codecs = { [K in MessageName]: Codec<Messages[K]> };

const empty: Omit<Codec<Empty>, 'code'> = { write: () => undefined, read: () => ({}) };

function enumCode<T extends string>(values: readonly T[], v: T): number {
  return values.indexOf(v) + 1;
}
function enumRead<T extends string>(values: readonly T[], code: number, what: string): T {
  const v = values[code - 1];
  if (v === undefined) throw new PayloadError(`unknown ${what} ${code}`);
  return v;
}

function writePayoutId(w: Writer, id: string): void {
  if (Buffer.byteLength(id, 'utf8') > MAX_PAYOUT_ID_BYTES) throw new PayloadError(`payout id longer than ${MAX_PAYOUT_ID_BYTES} bytes`);
  w.str8(id);
}

function writePayout(w: Writer, p: PayoutRecord): void {
  writePayoutId(w, p.payoutId);
  w.u8(enumCode(payoutStates, p.state)).u32(p.requested).u32(p.paid).u8(p.reason ? enumCode(payoutEndReasons, p.reason) : 0);
}
function readPayout(r: Reader): PayoutRecord {
  const payoutId = r.str8();
  const state = enumRead(payoutStates, r.u8(), 'payout state');
  const requested = r.u32();
  const paid = r.u32();
  const reasonCode = r.u8();
  const reason = reasonCode === 0 ? null : enumRead(payoutEndReasons, reasonCode, 'payout end reason');
  if (paid > requested) throw new PayloadError(`paid ${paid} exceeds requested ${requested}`);
  return { payoutId, state, requested, paid, reason };
}

/** Event kinds and their codes (docs/board-link.md §5). */
const eventCodecs: { [K in BoardEventKind]: { code: number; write(w: Writer, e: Extract<BoardEvent, { kind: K }>): void; read(r: Reader): Extract<BoardEvent, { kind: K }> } } = {
  bill: { code: 0x01, write: (w, e) => w.u16(e.amount), read: (r) => ({ kind: 'bill', amount: r.u16() }) },
  coin: { code: 0x02, write: (w, e) => w.u16(e.amount), read: (r) => ({ kind: 'coin', amount: r.u16() }) },
  payout_progress: {
    code: 0x03,
    write: (w, e) => (writePayoutId(w, e.payoutId), w.u32(e.requested).u32(e.paid)),
    read: (r) => ({ kind: 'payout_progress', payoutId: r.str8(), requested: r.u32(), paid: r.u32() }),
  },
  payout_done: {
    code: 0x04,
    write: (w, e) => (writePayoutId(w, e.payoutId), w.u32(e.requested).u32(e.paid).u8(enumCode(payoutEndReasons, e.reason))),
    read: (r) => ({ kind: 'payout_done', payoutId: r.str8(), requested: r.u32(), paid: r.u32(), reason: enumRead(payoutEndReasons, r.u8(), 'payout end reason') }),
  },
  fault_raised: { code: 0x05, write: (w, e) => w.u16(e.code), read: (r) => ({ kind: 'fault_raised', code: r.u16() }) },
  fault_cleared: { code: 0x06, write: (w, e) => w.u16(e.code), read: (r) => ({ kind: 'fault_cleared', code: r.u16() }) },
  door: { code: 0x07, write: (w, e) => w.bool(e.open), read: (r) => ({ kind: 'door', open: r.bool() }) },
  hopper_level: {
    code: 0x08,
    write: (w, e) => w.u32(e.coins).bool(e.lowSensor),
    read: (r) => ({ kind: 'hopper_level', coins: r.u32(), lowSensor: r.bool() }),
  },
  hopper_empty: { code: 0x09, write: () => undefined, read: () => ({ kind: 'hopper_empty' }) },
};
const eventKindByCode = new Map(Object.entries(eventCodecs).map(([kind, c]) => [c.code, kind as BoardEventKind]));

/** A well-formed event of a kind this agent does not know: a protocol version mismatch, never ACKed. */
export class UnknownEventKindError extends PayloadError {
  constructor(readonly kindCode: number) {
    super(`unknown event kind 0x${kindCode.toString(16)}`);
  }
}

function writeEvent(w: Writer, e: BoardEvent): void {
  const c = eventCodecs[e.kind] as Codec<BoardEvent>;
  w.u8(c.code);
  c.write(w, e);
}
function readEvent(r: Reader): BoardEvent {
  const code = r.u8();
  const kind = eventKindByCode.get(code);
  if (!kind) throw new UnknownEventKindError(code);
  const e = eventCodecs[kind].read(r);
  if ((e.kind === 'payout_progress' || e.kind === 'payout_done') && e.paid > e.requested) throw new PayloadError(`paid ${e.paid} exceeds requested ${e.requested}`);
  return e;
}

const codecs: Codecs = {
  hello: { code: 0x01, write: (w, m) => w.u32(m.nonce).u8(m.version), read: (r) => ({ nonce: r.u32(), version: r.u8() }) },
  ping: { code: 0x02, ...empty },
  payout: {
    code: 0x03,
    write: (w, m) => (writePayoutId(w, m.payoutId), w.u32(m.coins)),
    read: (r) => ({ payoutId: r.str8(), coins: r.u32() }),
  },
  set_acceptors: {
    code: 0x04,
    write: (w, m) => w.bool(m.enabled).u16(inhibitMask(m.inhibit)),
    // The mask is optional on the wire: a sender without it inhibits nothing.
    read: (r) => ({ enabled: r.bool(), inhibit: r.remaining() > 0 ? inhibitAmounts(r.u16()) : [] }),
  },
  display: { code: 0x05, write: (w, m) => w.rest(m.text), read: (r) => ({ text: r.rest() }) },
  status: { code: 0x06, write: (w, m) => w.u8(m.maxPayouts), read: (r) => ({ maxPayouts: r.u8() }) },
  event: {
    code: 0x40,
    write: (w, m) => (w.u32(m.eventId).u32(m.ageMs), writeEvent(w, m.event)),
    read: (r) => ({ eventId: r.u32(), ageMs: r.u32(), event: readEvent(r) }),
  },

  hello_reply: {
    code: 0x81,
    write: (w, m) => w.u8(m.version).bytes(Buffer.from(m.boardId, 'hex')).u32(m.eventCounter),
    read: (r) => ({ version: r.u8(), boardId: r.bytes(8).toString('hex'), eventCounter: r.u32() }),
  },
  pong: { code: 0x82, ...empty },
  payout_reply: { code: 0x83, write: (w, m) => (w.bool(m.known), writePayout(w, m.payout)), read: (r) => ({ known: r.bool(), payout: readPayout(r) }) },
  set_acceptors_reply: { code: 0x84, ...empty },
  display_reply: { code: 0x85, ...empty },
  status_reply: {
    code: 0x86,
    write: (w, m) => {
      const flags = (m.doorOpen ? 1 : 0) | (m.acceptorsEnabled ? 2 : 0) | (m.lowSensor ? 4 : 0);
      w.u32(m.inventory ?? INVENTORY_UNKNOWN).u8(flags).u32(m.eventCounter).u16(m.pendingEvents);
      w.u8(m.faults.length);
      for (const f of m.faults) w.u16(f);
      w.u8(m.payouts.length);
      for (const p of m.payouts) writePayout(w, p);
    },
    read: (r) => {
      const inventory = r.u32();
      const flags = r.u8();
      const eventCounter = r.u32();
      const pendingEvents = r.u16();
      const faults = Array.from({ length: r.u8() }, () => r.u16());
      const payouts = Array.from({ length: r.u8() }, () => readPayout(r));
      return {
        inventory: inventory === INVENTORY_UNKNOWN ? null : inventory,
        doorOpen: (flags & 1) !== 0,
        acceptorsEnabled: (flags & 2) !== 0,
        lowSensor: (flags & 4) !== 0,
        eventCounter,
        pendingEvents,
        faults,
        payouts,
      };
    },
  },
  event_ack: { code: 0xc0, write: (w, m) => w.u32(m.eventId), read: (r) => ({ eventId: r.u32() }) },
  error: {
    code: 0xff,
    write: (w, m) => w.u8(boardErrorCodes[m.code]).str8(m.detail),
    read: (r) => ({ code: enumRead(Object.keys(boardErrorCodes) as BoardErrorCode[], r.u8(), 'error code'), detail: r.str8() }),
  },
};

const nameByCode = new Map(Object.entries(codecs).map(([name, c]) => [c.code, name as MessageName]));

export const typeCode = (name: MessageName): number => codecs[name].code;
export const isKnownType = (code: number): boolean => nameByCode.has(code);

/** The answer a request expects (besides `error`). */
export const replyTo: Partial<Record<MessageName, MessageName>> = {
  hello: 'hello_reply',
  ping: 'pong',
  payout: 'payout_reply',
  set_acceptors: 'set_acceptors_reply',
  display: 'display_reply',
  status: 'status_reply',
  event: 'event_ack',
};
export const isRequest = (name: MessageName): boolean => name in replyTo;

export function encodePayload(m: Message): Buffer {
  const c = codecs[m.name] as Codec<Message>;
  const w = new Writer();
  c.write(w, m);
  return w.done();
}

/** Decodes a payload of a known type; throws PayloadError when it does not fit. Returns null for an unknown type. */
export function decodePayload(type: number, payload: Buffer): Message | null {
  const name = nameByCode.get(type);
  if (!name) return null;
  const r = new Reader(payload);
  const body = codecs[name].read(r);
  r.end();
  return { name, ...body } as Message;
}

/** Cuts UTF-8 text to at most `max` bytes without splitting a character. */
export function truncateUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > max) break;
    out += ch;
    used += n;
  }
  return out;
}
