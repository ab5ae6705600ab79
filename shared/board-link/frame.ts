/**
 * Board-link framing (docs/board-link.md §2): STX, byte-stuffed body, ETX.
 * Body = SEQ (u16 BE) · TYPE (u8) · PAYLOAD · CRC-16/CCITT-FALSE (u16 BE)
 * over SEQ..PAYLOAD. STX, ETX and DLE never appear inside a frame (they are
 * sent as DLE, byte ^ 0x20), so a receiver resynchronises at the next STX
 * after any damage, without timers.
 */
export const STX = 0x02;
export const ETX = 0x03;
export const DLE = 0x10;
const ESCAPE_XOR = 0x20;

/** Largest payload either side may send; bounds the receive buffer on a noisy line (docs/board-link.md §2). */
export const MAX_PAYLOAD = 1024;
const HEADER = 3;
const TRAILER = 2;
const MAX_BODY = HEADER + MAX_PAYLOAD + TRAILER;

export interface Frame {
  seq: number;
  type: number;
  payload: Buffer;
}

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor. Check value of "123456789" is 0x29B1. */
export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= data[i]! << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The unstuffed body of a frame (header, payload, CRC). */
export function frameBody(frame: Frame): Buffer {
  if (frame.payload.length > MAX_PAYLOAD) throw new RangeError(`payload of ${frame.payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const body = Buffer.alloc(HEADER + frame.payload.length + TRAILER);
  body.writeUInt16BE(frame.seq & 0xffff, 0);
  body.writeUInt8(frame.type & 0xff, 2);
  frame.payload.copy(body, HEADER);
  body.writeUInt16BE(crc16(body, 0, body.length - TRAILER), body.length - TRAILER);
  return body;
}

/** Wraps any body (also a deliberately broken one) in STX … ETX with byte stuffing. */
export function stuff(body: Uint8Array): Buffer {
  const out: number[] = [STX];
  for (const b of body) {
    if (b === STX || b === ETX || b === DLE) out.push(DLE, b ^ ESCAPE_XOR);
    else out.push(b);
  }
  out.push(ETX);
  return Buffer.from(out);
}

export const encodeFrame = (frame: Frame): Buffer => stuff(frameBody(frame));

/** Why the decoder threw bytes away; each one is counted. */
export type RejectReason = 'garbage' | 'truncated' | 'oversized' | 'too_short' | 'bad_crc';

export interface DecoderCounters {
  frames: number;
  /** Bytes seen outside any frame. */
  garbage: number;
  /** A frame cut short by a new STX or a broken escape. */
  truncated: number;
  oversized: number;
  too_short: number;
  bad_crc: number;
}

export const emptyDecoderCounters = (): DecoderCounters => ({ frames: 0, garbage: 0, truncated: 0, oversized: 0, too_short: 0, bad_crc: 0 });

type State = 'hunt' | 'body' | 'escape' | 'skip';

/**
 * Streaming decoder: feed it whatever the port delivers; it calls `onFrame`
 * for each frame whose CRC holds and counts everything it drops. The body
 * buffer never grows past MAX_BODY.
 */
export class FrameDecoder {
  readonly counters = emptyDecoderCounters();
  private state: State = 'hunt';
  private readonly buf = Buffer.alloc(MAX_BODY);
  private len = 0;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onReject: (reason: RejectReason) => void = () => undefined,
  ) {}

  push(chunk: Uint8Array): void {
    for (const b of chunk) this.byte(b);
  }

  private byte(b: number): void {
    if (b === STX) {
      if (this.state === 'body' || this.state === 'escape') this.reject('truncated');
      this.state = 'body';
      this.len = 0;
      return;
    }
    switch (this.state) {
      case 'hunt':
        this.reject('garbage');
        return;
      case 'skip':
        if (b === ETX) this.state = 'hunt';
        return;
      case 'escape':
        if (b === ETX) {
          this.reject('truncated');
          this.state = 'hunt';
          return;
        }
        this.state = 'body';
        this.append(b ^ ESCAPE_XOR);
        return;
      case 'body':
        if (b === ETX) {
          this.state = 'hunt';
          this.finish();
        } else if (b === DLE) {
          this.state = 'escape';
        } else {
          this.append(b);
        }
    }
  }

  private append(b: number): void {
    if (this.len === MAX_BODY) {
      this.reject('oversized');
      this.state = 'skip';
      return;
    }
    this.buf[this.len++] = b;
  }

  private finish(): void {
    if (this.len < HEADER + TRAILER) return this.reject('too_short');
    const crc = this.buf.readUInt16BE(this.len - TRAILER);
    if (crc !== crc16(this.buf, 0, this.len - TRAILER)) return this.reject('bad_crc');
    this.counters.frames++;
    this.onFrame({
      seq: this.buf.readUInt16BE(0),
      type: this.buf[2]!,
      payload: Buffer.from(this.buf.subarray(HEADER, this.len - TRAILER)),
    });
  }

  private reject(reason: RejectReason): void {
    this.counters[reason]++;
    this.onReject(reason);
  }
}
