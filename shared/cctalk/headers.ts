/**
 * The ccTalk headers this driver uses and the parsing of their replies
 * (docs/cctalk.md lists them with their sources). Pure functions.
 */

export const H = {
  simplePoll: 254,
  addressPoll: 253,
  requestManufacturerId: 246,
  requestEquipmentCategory: 245,
  requestProductCode: 244,
  requestSerialNumber: 242,
  readBufferedCredit: 229,
  modifyMasterInhibit: 228,
  modifyInhibitStatus: 231,
  requestCoinId: 184,
  dispenseHopperCoins: 167,
  requestHopperStatus: 166,
  enableHopper: 164,
  testHopper: 163,
  readBufferedBillEvents: 159,
  requestBillId: 157,
  routeBill: 154,
  resetDevice: 1,
} as const;

/** Data byte of 164 that enables the hopper; any other value disables it. */
export const HOPPER_ENABLE_CODE = 165;
/** Route codes of 154. */
export const ROUTE = { returnBill: 0, stack: 1 } as const;
/** Replies of 154 besides a plain ACK. */
export const ROUTE_REPLY = { escrowEmpty: 254, failed: 255 } as const;

/** One entry of a 229 / 159 event buffer: result A and result B. */
export interface BufferedEvent {
  a: number;
  b: number;
}

export interface BufferRead {
  /** The device's event counter after this read. */
  counter: number;
  /** Events not seen before, oldest first. */
  fresh: BufferedEvent[];
  /** Events that happened but fell out of the 5-entry buffer before this read. */
  lost: number;
  /** The counter went back to 0: the device was reset (power-up) since the last read. */
  reset: boolean;
}

/** Entries a buffered event reply holds (the counter, then 5 pairs, newest first). */
export const BUFFER_DEPTH = 5;

/**
 * What a 229 / 159 reply adds to what was read before. Counters run 1–255
 * and wrap to 1; 0 means the device was reset. `last` undefined: the first
 * read ever, which only sets the baseline (what the buffer holds happened
 * before this agent watched it).
 */
export function readEventBuffer(last: number | undefined, data: Uint8Array): BufferRead {
  if (data.length !== 1 + 2 * BUFFER_DEPTH) throw new RangeError(`an event buffer reply has ${1 + 2 * BUFFER_DEPTH} bytes, got ${data.length}`);
  const counter = data[0]!;
  if (last === undefined) return { counter, fresh: [], lost: 0, reset: false };
  if (counter === 0) return { counter, fresh: [], lost: 0, reset: last !== 0 };
  // After a reset (last 0) the counter starts again at 1.
  const from = last === 0 ? 0 : last;
  let n = counter - from;
  if (n < 0) n += 255;
  const lost = Math.max(0, n - BUFFER_DEPTH);
  const take = Math.min(n, BUFFER_DEPTH);
  const fresh: BufferedEvent[] = [];
  for (let i = take - 1; i >= 0; i--) fresh.push({ a: data[1 + 2 * i]!, b: data[2 + 2 * i]! });
  return { counter, fresh, lost, reset: false };
}

/** The event counter after `counter` (1–255, wrapping to 1). */
export const nextCounter = (counter: number): number => (counter >= 255 ? 1 : counter + 1);

export interface HopperStatus {
  counter: number;
  remaining: number;
  paid: number;
  unpaid: number;
}

export function readHopperStatus(data: Uint8Array): HopperStatus {
  if (data.length !== 4) throw new RangeError(`a hopper status reply has 4 bytes, got ${data.length}`);
  return { counter: data[0]!, remaining: data[1]!, paid: data[2]!, unpaid: data[3]! };
}

/** Flags of 163 (test hopper), first byte. */
export const HOPPER_FLAG = {
  maxCurrent: 1 << 0,
  payoutTimeout: 1 << 1,
  motorReversed: 1 << 2,
  optoPathBlocked: 1 << 3,
  optoShort: 1 << 4,
  optoBlockedPayout: 1 << 5,
  payoutDisabled: 1 << 7,
} as const;

// ---- coin acceptor error codes (229 with result A = 0) ---------------------
/** Plain rejections (not a fault): rejected, inhibited, slugs, the return lever; 128–159 inhibited coin types. */
const COIN_REJECTS = new Set([0, 1, 2, 3, 24, 25, 254]);
/** Fishing / fraud patterns: sensors blocked, coin going backwards, too fast, credit sequence, C.O.S. mechanism. */
const COIN_FRAUD = new Set([14, 16, 17, 18, 20, 23, 26]);

export type CoinErrorClass = 'reject' | 'fraud' | 'other';
export function coinErrorClass(code: number): CoinErrorClass {
  if (COIN_REJECTS.has(code) || (code >= 128 && code <= 159)) return 'reject';
  return COIN_FRAUD.has(code) ? 'fraud' : 'other';
}

// ---- bill validator events (159 with result A = 0) --------------------------
/** B when A is a bill type: 0 stacked and credited, 1 held in escrow. */
export const BILL_STACKED = 0;
export const BILL_ESCROW = 1;
const BILL_JAMS = new Set([6, 7, 13, 15, 16]);
const BILL_FRAUD = new Set([8, 9, 17, 18]);

export type BillStatusClass = 'info' | 'jam' | 'fraud';
export function billStatusClass(code: number): BillStatusClass {
  if (BILL_JAMS.has(code)) return 'jam';
  return BILL_FRAUD.has(code) ? 'fraud' : 'info';
}

/** ASCII text of an identification reply (245, 244, 246), trimmed. */
export const ascii = (data: Uint8Array): string => Buffer.from(data).toString('latin1').replace(/\0/g, '').trim();

/** The serial number of 242: three bytes, least significant first. */
export const serialNumber = (data: Uint8Array): number => data.reduce((n, b, i) => n + b * 256 ** i, 0);
