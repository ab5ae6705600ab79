import { CodedError } from '../errors.js';

/**
 * Bounds-checked big-endian readers and writers for frame payloads. A read
 * past the end or a value out of range throws PayloadError, which the link
 * counts as `bad_payload` (docs/board-link.md §3).
 */
export class PayloadError extends Error {
  readonly code = 'BAD_PAYLOAD';
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  private take(n: number): number {
    if (this.pos + n > this.buf.length) throw new PayloadError(`payload too short: need ${this.pos + n} bytes, have ${this.buf.length}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }
  u16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }
  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }
  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new PayloadError(`expected 0 or 1, got ${v}`);
    return v === 1;
  }
  bytes(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  /** u8 length + UTF-8. */
  str8(): string {
    return this.bytes(this.u8()).toString('utf8');
  }
  /** Everything left, as UTF-8. */
  rest(): string {
    return this.bytes(this.buf.length - this.pos).toString('utf8');
  }
  /** Bytes not read yet (an optional trailing field). */
  remaining(): number {
    return this.buf.length - this.pos;
  }
  /** Trailing bytes mean sender and receiver disagree on the layout. */
  end(): void {
    if (this.pos !== this.buf.length) throw new PayloadError(`${this.buf.length - this.pos} unexpected trailing bytes`);
  }
}

export class Writer {
  private readonly parts: Buffer[] = [];

  private int(bytes: number, v: number): this {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * bytes)) throw new PayloadError(`${v} does not fit in ${bytes} byte(s)`);
    const b = Buffer.alloc(bytes);
    b.writeUIntBE(v, 0, bytes);
    this.parts.push(b);
    return this;
  }
  u8(v: number): this {
    return this.int(1, v);
  }
  u16(v: number): this {
    return this.int(2, v);
  }
  u32(v: number): this {
    return this.int(4, v);
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  bytes(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  str8(s: string): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new PayloadError(`string of ${b.length} bytes does not fit a u8 length`);
    return this.u8(b.length).bytes(b);
  }
  rest(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/**
 * A request the link could not complete: the port is closed or the link was
 * reset (LINK_DOWN), every attempt went unanswered (TIMEOUT), or the message
 * is not a request (INVALID). The agent's driver turns it into its DriverError.
 */
export class LinkError extends CodedError<'LINK_DOWN' | 'TIMEOUT' | 'INVALID'> {}
