/**
 * The emulated bus: reads the host's requests, echoes them as a one-wire bus
 * does, and lets the addressed device answer. A request with a bad checksum,
 * for nobody, or with a header the device does not know gets no reply, as on
 * a real bus. Hostile mode (docs/cctalk.md "Emulator") spoils the next
 * replies: bad checksums, truncated frames, a missing echo, late replies,
 * lagging replies (held back until the host's next request, then sent
 * ahead of its echo: what a host that gave up waiting reads), garbage, or
 * exact bytes given by a test.
 */
import { CCTalkParser } from '@serialport/parser-cctalk';
import { ACK, HOST_ADDRESS, NAK, decodeFrame, encodeFrame } from '../../shared/cctalk/frame.js';
import type { EmulatedDevice } from './devices.js';

export const hostileKinds = ['badsum', 'truncate', 'noecho', 'late', 'lag', 'garbage'] as const;
export type HostileKind = (typeof hostileKinds)[number];

export interface BusCounters {
  /** Bytes read from the host (echo and garbage included). */
  bytesIn: number;
  requests: number;
  badRequests: number;
  replies: number;
  spoiled: number;
}

export class EmulatedBus {
  echo = true;
  lateMs = 600;
  readonly counters: BusCounters = { bytesIn: 0, requests: 0, badRequests: 0, replies: 0, spoiled: 0 };
  private readonly parser = new CCTalkParser();
  private readonly hostile: Array<HostileKind | Buffer> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Lagging replies, sent when the next request comes in. */
  private lagging: Buffer[] = [];

  constructor(
    readonly devices: readonly EmulatedDevice[],
    private readonly write: (bytes: Buffer) => void,
  ) {
    this.parser.on('data', (frame: Buffer) => this.onRequest(frame));
  }

  receive(chunk: Buffer): void {
    this.counters.bytesIn += chunk.length;
    for (const reply of this.lagging.splice(0)) this.write(reply);
    if (this.echo && this.hostile[0] !== 'noecho') this.write(chunk);
    else if (this.hostile[0] === 'noecho') {
      this.hostile.shift();
      this.counters.spoiled += 1;
    }
    this.parser.write(chunk);
  }

  /** Spoils the next `n` replies with `kind`, or replaces the next reply with exact bytes. */
  spoil(kind: HostileKind | Buffer, n = 1): void {
    for (let i = 0; i < n; i++) this.hostile.push(kind);
  }

  get spoilsLeft(): number {
    return this.hostile.length;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  private onRequest(bytes: Buffer): void {
    this.counters.requests += 1;
    const device = this.devices.find((d) => d.address === bytes[0]);
    if (!device) return;
    let req;
    try {
      req = decodeFrame(bytes, device.checksum, HOST_ADDRESS);
    } catch {
      this.counters.badRequests += 1;
      return;
    }
    if (req.source !== HOST_ADDRESS) return;
    const data = device.handle(req.header, req.data);
    if (data === null) return;
    const reply = encodeFrame(
      { destination: HOST_ADDRESS, source: device.address, header: data === 'nak' ? NAK : ACK, data: Uint8Array.from(data === 'nak' ? [] : data) },
      device.checksum,
    );
    this.send(reply);
  }

  private send(reply: Buffer): void {
    const spoil = this.hostile[0] !== 'noecho' ? this.hostile.shift() : undefined;
    if (spoil !== undefined) this.counters.spoiled += 1;
    this.counters.replies += 1;
    if (Buffer.isBuffer(spoil)) return this.write(spoil);
    switch (spoil) {
      case 'badsum': {
        const bad = Buffer.from(reply);
        bad[bad.length - 1] = (bad[bad.length - 1]! + 1) & 0xff;
        return this.write(bad);
      }
      case 'truncate':
        return this.write(reply.subarray(0, Math.max(1, reply.length - 2)));
      case 'garbage': {
        const n = 1 + Math.floor(Math.random() * 12);
        return this.write(Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256))));
      }
      case 'lag':
        this.lagging.push(reply);
        return;
      case 'late': {
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.write(reply);
        }, this.lateMs);
        this.timers.add(t);
        return;
      }
      default:
        return this.write(reply);
    }
  }
}
