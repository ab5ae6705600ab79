/**
 * Keeps a serial port open: serialport 13 never reconnects by itself, and an
 * unplugged port object is dead (docs/pitfalls.md#5-serialport). So each (re)open creates a
 * NEW port object, after a back-off that doubles up to a cap (with jitter) and
 * is reset once the board answered. Writes go only to an open port: a write
 * to a closed one would be queued and sent late (a payout command minutes
 * after the caller gave up).
 */
import type { Logger } from '../../../shared/logger.js';

/** The part of serialport's `SerialPort` the driver uses. */
export interface SerialPortLike {
  readonly isOpen: boolean;
  open(callback: (err: Error | null) => void): void;
  write(data: Buffer, callback: (err: Error | null | undefined) => void): boolean;
  flush(callback: (err: Error | null) => void): void;
  close(callback: (err: Error | null) => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (err?: Error & { disconnected?: boolean }) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  removeAllListeners(event?: string): this;
}

/** Creates an unopened port (`autoOpen: false`, `lock: true`). */
export type PortFactory = (opts: { path: string; baudRate: number }) => SerialPortLike;

export interface ReconnectingPortOptions {
  path: string;
  baudRate: number;
  openPort: PortFactory;
  log: Logger;
  /** First reopen delay, ms. */
  minDelayMs: number;
  /** Cap of the reopen delay, ms. */
  maxDelayMs: number;
  /** The port is open and its stale input discarded. */
  onOpen(): void;
  onData(chunk: Buffer): void;
  /** The open port went away (unplugged, or `recycle`d); a reopen is scheduled. */
  onClose(reason: string): void;
}

export class ReconnectingPort {
  private port: SerialPortLike | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delay: number;
  private closed = false;

  constructor(private readonly opts: ReconnectingPortOptions) {
    this.delay = opts.minDelayMs;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  start(): void {
    this.connect();
  }

  /** Writes if the port is open; false (nothing written) otherwise. */
  write(bytes: Buffer): boolean {
    const port = this.port;
    if (!port?.isOpen) return false;
    port.write(bytes, (err) => {
      if (err) this.opts.log.warn({ err: err.message }, 'serial write failed');
    });
    return true;
  }

  /** The board stopped answering: drop this port object and reopen after the back-off. */
  recycle(reason: string): void {
    const port = this.port;
    if (!port) return;
    this.discard(port);
    this.opts.onClose(reason);
    this.schedule();
  }

  /** The board answered: the next loss starts again from the shortest delay. */
  resetBackoff(): void {
    this.delay = this.opts.minDelayMs;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const port = this.port;
    if (port) await new Promise<void>((resolve) => this.discard(port, resolve));
  }

  private connect(): void {
    this.timer = null;
    if (this.closed) return;
    let port: SerialPortLike;
    try {
      port = this.opts.openPort({ path: this.opts.path, baudRate: this.opts.baudRate });
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message, path: this.opts.path }, 'cannot create serial port');
      this.schedule();
      return;
    }
    port.on('error', (err) => this.opts.log.warn({ err: err.message, path: this.opts.path }, 'serial port error'));
    port.open((err) => {
      if (err) {
        this.opts.log.debug({ err: err.message, path: this.opts.path }, 'serial open failed');
        port.removeAllListeners('data');
        this.schedule();
        return;
      }
      if (this.closed) return this.discard(port);
      this.port = port;
      port.on('data', (chunk) => this.opts.onData(chunk));
      port.on('close', (closeErr) => {
        if (this.port !== port) return;
        this.port = null;
        this.opts.onClose(closeErr?.disconnected ? 'port disconnected' : 'port closed');
        this.schedule();
      });
      // Answers and events queued in the tty while nobody listened are stale; the board retransmits what matters.
      port.flush((flushErr) => {
        if (flushErr) this.opts.log.warn({ err: flushErr.message }, 'serial flush failed');
        if (this.port === port) this.opts.onOpen();
      });
    });
  }

  /** Forgets a port object for good; its late events are ignored. */
  private discard(port: SerialPortLike, done?: () => void): void {
    if (this.port === port) this.port = null;
    port.removeAllListeners('data');
    if (!port.isOpen) return done?.();
    port.close((err) => {
      if (err) this.opts.log.debug({ err: err.message }, 'serial close failed');
      done?.();
    });
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const wait = Math.round(this.delay * (0.8 + Math.random() * 0.4));
    this.delay = Math.min(this.delay * 2, this.opts.maxDelayMs);
    this.opts.log.debug({ wait, path: this.opts.path }, 'serial reopen scheduled');
    this.timer = setTimeout(() => this.connect(), wait);
  }
}
