/**
 * One ccTalk bus on one serial port: the host sends a request and waits for
 * its reply, one at a time (docs/cctalk.md#protocol-facts-relied-on). Frames are cut by
 * `@serialport/parser-cctalk` (length byte plus its 50 ms inter-byte reset);
 * checksums and CRCs are checked here (shared/cctalk/frame.ts), since the parser checks
 * neither. On a one-wire bus the host reads its own request back first: a
 * frame equal to what was just sent is that echo and is dropped, so the same
 * code runs on one-wire and two-wire adapters. Once an echo was seen (a
 * one-wire bus), a reply that arrives ahead of the request's own echo was
 * sent before the request: a reply the host stopped waiting for (a slow
 * host or device). It is held, and dropped as stale when the echo comes;
 * only if the echo never comes is it the reply. Taking it would book the
 * answer to another request (an ACK of 164 as the ACK of a 167). A new
 * parser per request: a truncated reply never glues onto the next one.
 */
import { CCTalkParser } from '@serialport/parser-cctalk';
import type { Logger } from '../../../shared/logger.js';
import { DriverError } from '../driver.js';
import { ReconnectingPort, type PortFactory } from '../serial/reconnecting-port.js';
import { ACK, BUSY, HOST_ADDRESS, NAK, decodeFrame, encodeFrame, FrameError, type ChecksumKind } from '../../../shared/cctalk/frame.js';

export interface BusOptions {
  path: string;
  baudRate: number;
  openPort: PortFactory;
  log: Logger;
  /** Wait for a reply, ms. */
  timeoutMs: number;
  /** First reopen delay after the port went away, ms. */
  reopenMinMs?: number;
  reopenMaxMs?: number;
  onOpen?(): void;
  onClose?(reason: string): void;
  /** A frame was dropped (checksum, length, stray or late reply). */
  onReject?(kind: string): void;
}

export interface RequestOptions {
  /** Extra attempts after a timeout, a bad frame or BUSY. Only for requests that are safe to repeat. Default 0. */
  retries?: number;
}

interface Pending {
  sent: Buffer;
  echoSeen: boolean;
  /** A reply that came ahead of the echo on a one-wire bus: stale unless the echo never comes. */
  early?: Uint8Array | Error;
  address: number;
  kind: ChecksumKind;
  settle(outcome: Uint8Array | Error): void;
}

/** What the bus saw since it was created: replies taken, frames dropped by kind, requests unanswered. */
export interface BusCounters {
  replies: number;
  timeouts: number;
  dropped: Record<string, number>;
}

export class CctalkBus {
  readonly counters: BusCounters = { replies: 0, timeouts: 0, dropped: {} };
  private readonly port: ReconnectingPort;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private parser: CCTalkParser | undefined;
  private closed = false;
  /** An echo was seen since the port opened: replies follow their request's echo. */
  private oneWire = false;

  constructor(private readonly options: BusOptions) {
    this.port = new ReconnectingPort({
      path: options.path,
      baudRate: options.baudRate,
      openPort: options.openPort,
      log: options.log,
      minDelayMs: options.reopenMinMs ?? 250,
      maxDelayMs: options.reopenMaxMs ?? 5_000,
      onOpen: () => {
        this.port.resetBackoff();
        this.oneWire = false;
        options.onOpen?.();
      },
      onData: (chunk) => this.parser?.write(chunk),
      onClose: (reason) => {
        this.fail(new DriverError('LINK_DOWN', `ccTalk bus: ${reason}`));
        options.onClose?.(reason);
      },
    });
  }

  get isOpen(): boolean {
    return this.port.isOpen;
  }

  start(): void {
    this.port.start();
  }

  /**
   * Sends `header` with `data` to `address` and resolves with the reply's
   * data. Rejects with DriverError: TIMEOUT (no valid reply), REFUSED (NAK),
   * LINK_DOWN (port closed).
   */
  request(address: number, header: number, data: Uint8Array | number[], kind: ChecksumKind, opts: RequestOptions = {}): Promise<Uint8Array> {
    const run = this.chain.then(async () => {
      let attempt = 0;
      for (;;) {
        try {
          return await this.once(address, header, Uint8Array.from(data), kind);
        } catch (err) {
          const again = err instanceof DriverError && err.code === 'TIMEOUT';
          if (!again || attempt >= (opts.retries ?? 0) || this.closed) throw err;
          attempt += 1;
        }
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.fail(new DriverError('LINK_DOWN', 'ccTalk bus closing'));
    await this.port.close();
  }

  private once(address: number, header: number, data: Uint8Array, kind: ChecksumKind): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new DriverError('LINK_DOWN', 'ccTalk bus closed'));
    const sent = encodeFrame({ destination: address, source: HOST_ADDRESS, header, data }, kind);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (p.early !== undefined) {
          // The echo never came (lost): the frame held was the reply after all.
          this.counters.replies += 1;
          settle(p.early);
          return;
        }
        this.counters.timeouts += 1;
        settle(new DriverError('TIMEOUT', `ccTalk: no reply from address ${address} to header ${header}`));
      }, this.options.timeoutMs);
      const settle = (outcome: Uint8Array | Error): void => {
        clearTimeout(timer);
        if (this.pending !== p) return;
        this.pending = undefined;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const p: Pending = { sent, echoSeen: false, address, kind, settle };
      this.pending = p;
      const parser = new CCTalkParser();
      parser.on('data', (frame: Buffer) => this.onFrame(p, frame));
      this.parser = parser;
      if (!this.port.write(sent)) settle(new DriverError('LINK_DOWN', 'ccTalk bus: port not open'));
    });
  }

  private onFrame(p: Pending, bytes: Buffer): void {
    if (this.pending !== p) {
      this.drop('late');
      return;
    }
    if (!p.echoSeen && bytes.equals(p.sent)) {
      p.echoSeen = true;
      this.oneWire = true;
      if (p.early !== undefined) {
        p.early = undefined;
        this.drop('stale');
      }
      return;
    }
    let frame;
    try {
      frame = decodeFrame(bytes, p.kind, p.address);
    } catch (err) {
      this.drop(err instanceof FrameError ? err.code : 'frame');
      return;
    }
    if (frame.destination !== HOST_ADDRESS || frame.source !== p.address) {
      this.drop('stray');
      return;
    }
    let outcome: Uint8Array | Error;
    if (frame.header === ACK) outcome = frame.data;
    else if (frame.header === NAK) outcome = new DriverError('REFUSED', `ccTalk: address ${p.address} answered NAK`);
    else if (frame.header === BUSY) outcome = new DriverError('TIMEOUT', `ccTalk: address ${p.address} answered BUSY`);
    else return this.drop('header');
    if (this.oneWire && !p.echoSeen) {
      if (p.early !== undefined) this.drop('stale');
      p.early = outcome;
      return;
    }
    this.counters.replies += 1;
    p.settle(outcome);
  }

  /** Counts a dropped input (also replies the devices' logic refuses, e.g. a malformed event buffer). */
  drop(kind: string): void {
    this.counters.dropped[kind] = (this.counters.dropped[kind] ?? 0) + 1;
    this.options.onReject?.(kind);
  }

  private fail(err: DriverError): void {
    this.pending?.settle(err);
  }
}
