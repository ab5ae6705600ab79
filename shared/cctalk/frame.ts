/**
 * ccTalk frames (docs/cctalk.md): `[destination][data length][source]
 * [header][data …][checksum]`. With the simple checksum all bytes sum to 0
 * mod 256. With the 16-bit CRC (CRC-16/CCITT, polynomial 0x1021, initial 0,
 * over destination, length, header and data) the CRC's low byte takes the
 * source byte's place and its high byte the checksum's; such a frame carries
 * no source address. Pure functions: the bus and the emulator share them.
 */
import { CodedError } from '../errors.js';

export type ChecksumKind = 'simple' | 'crc16';

/** The host's address on the bus. */
export const HOST_ADDRESS = 1;
/** Header of every reply: ACK (with the reply's data). */
export const ACK = 0;
export const NAK = 5;
export const BUSY = 6;
/** Frame bytes besides the data. */
export const FRAME_OVERHEAD = 5;

export interface Frame {
  destination: number;
  /** The sender; with the CRC kind it is not on the wire and reads as the HOST/peer address the caller expects. */
  source: number;
  header: number;
  data: Uint8Array;
}

export class FrameError extends CodedError<'short' | 'length' | 'checksum'> {}

export function crc16(bytes: Iterable<number>): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function encodeFrame(f: Frame, kind: ChecksumKind): Buffer {
  if (f.data.length > 255) throw new RangeError(`ccTalk data is at most 255 bytes, got ${f.data.length}`);
  const out = Buffer.alloc(f.data.length + FRAME_OVERHEAD);
  out[0] = f.destination;
  out[1] = f.data.length;
  out[3] = f.header;
  out.set(f.data, 4);
  const last = out.length - 1;
  if (kind === 'simple') {
    out[2] = f.source;
    let sum = 0;
    for (let i = 0; i < last; i++) sum += out[i]!;
    out[last] = (256 - (sum & 0xff)) & 0xff;
  } else {
    const crc = crc16([out[0]!, out[1]!, out[3]!, ...f.data]);
    out[2] = crc & 0xff;
    out[last] = crc >> 8;
  }
  return out;
}

/**
 * Decodes one whole frame (as the length-framing parser cut it). With the
 * CRC kind the source is not on the wire: `crcSource` stands in for it.
 */
export function decodeFrame(bytes: Uint8Array, kind: ChecksumKind, crcSource = 0): Frame {
  if (bytes.length < FRAME_OVERHEAD) throw new FrameError('short', `a ccTalk frame has at least ${FRAME_OVERHEAD} bytes, got ${bytes.length}`);
  if (bytes[1]! + FRAME_OVERHEAD !== bytes.length) throw new FrameError('length', `length byte ${bytes[1]} does not match a ${bytes.length}-byte frame`);
  const data = Uint8Array.from(bytes.subarray(4, bytes.length - 1));
  if (kind === 'simple') {
    let sum = 0;
    for (const b of bytes) sum += b;
    if ((sum & 0xff) !== 0) throw new FrameError('checksum', 'simple checksum does not sum to 0');
    return { destination: bytes[0]!, source: bytes[2]!, header: bytes[3]!, data };
  }
  const crc = crc16([bytes[0]!, bytes[1]!, bytes[3]!, ...data]);
  if ((crc & 0xff) !== bytes[2] || crc >> 8 !== bytes[bytes.length - 1]) throw new FrameError('checksum', 'CRC-16 mismatch');
  return { destination: bytes[0]!, source: crcSource, header: bytes[3]!, data };
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ').toUpperCase();
