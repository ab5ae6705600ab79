/**
 * HardwareDriver over the board link on a serial port (docs/board-link.md).
 *
 * Link life cycle: port open → HELLO → up (emit `link` {up:true}, ping every
 * `pingIntervalMs`) → port closed or a ping unanswered → down (emit `link`
 * {up:false}, fail waiting requests) → reopen a NEW port after a back-off →
 * HELLO again. Board events reach the sink one at a time, in board order, and
 * are ACKed to the board only after the sink resolved.
 *
 * The parts: BoardLink (frames, answers, events of the wire), a LinkSession
 * per port session (HELLO, pings), an OrderedSink (events in order to the one
 * sink), and the driver below, which turns commands into requests and keeps
 * the up/down state.
 */
import { randomUUID } from 'node:crypto';
import type { HwCommand } from '../../../queue/jobs.js';
import { systemClock, type Clock } from '../../../shared/clock.js';
import type { Logger } from '../../../shared/logger.js';
import type { Metrics } from '../../../shared/metrics.js';
import { DriverError, type EventSink, type HardwareDriver } from '../driver.js';
import { BoardLink, type LinkCounters } from './board-link.js';
import { hwEventId, toHwEvent, toStatusReport } from './event-map.js';
import { MAX_DISPLAY_BYTES, truncateUtf8, type Message, type MessageOf, type StatusReply } from '../../../shared/board-link/messages.js';
import { PayloadError } from '../../../shared/board-link/wire.js';
import { LinkSession } from './link-session.js';
import { OrderedSink } from './ordered-sink.js';
import { ReconnectingPort, type PortFactory } from './reconnecting-port.js';

export interface SerialDriverOptions {
  /** Serial device, preferably a stable /dev/serial/by-id/… path (COINEREX_SERIAL_PATH). */
  path: string;
  /** COINEREX_SERIAL_BAUD. */
  baudRate: number;
  log: Logger;
  /** Creates an unopened port; the factory in index.ts defaults to serialport's SerialPort. */
  openPort: PortFactory;
  clock?: Clock;
  /** Counters of dropped input and link changes, if given. */
  metrics?: Metrics;
  /** Wait for an answer before retransmitting a request, ms. Default 300. */
  responseTimeoutMs?: number;
  /** Retransmissions of a request before it fails with TIMEOUT. Default 3. */
  retries?: number;
  /** Ping period while up, ms; a ping unanswered after all retries takes the link down. Default 1000. */
  pingIntervalMs?: number;
  /** First reopen delay after a loss, ms. Default 250. */
  reopenMinMs?: number;
  /** Cap of the reopen back-off, ms. Default 10000. */
  reopenMaxMs?: number;
  /** `start()` waits at most this long for the link to come up, ms; it never fails for a missing board. Default 3000. */
  startWaitMs?: number;
  /** Payouts asked for in a STATUS request (the board sends as many as fit a frame). Default 16. */
  statusPayouts?: number;
}

export interface SerialDriver extends HardwareDriver {
  readonly linkUp: boolean;
  /** Asks the board for its state, payouts included (docs/board-link.md §3.6). */
  status(): Promise<StatusReply>;
  /** Frame and link counters since the driver was created. */
  counters(): LinkCounters & { linkDowns: number };
}

export function serialDriver(options: SerialDriverOptions): SerialDriver {
  return new BoardDriver(options);
}

class BoardDriver implements SerialDriver {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly events = new OrderedSink();
  private readonly link: BoardLink;
  private readonly port: ReconnectingPort;
  /** The current port session; null while the port is closed. */
  private session: LinkSession | null = null;
  private started = false;
  private up = false;
  private linkDowns = 0;
  private closing: Promise<void> | null = null;
  private readonly upWaiters = new Set<() => void>();

  constructor(private readonly options: SerialDriverOptions) {
    this.clock = options.clock ?? systemClock;
    const log = (this.log = options.log.child({ driver: 'serial', path: options.path }));
    this.link = new BoardLink({
      write: (bytes) => this.port.write(bytes),
      timeoutMs: options.responseTimeoutMs ?? 300,
      retries: options.retries ?? 3,
      log,
      onReject: (kind) => options.metrics?.incr('serial_input_dropped_total', { kind }),
      onIgnoredEvent: (kind) => options.metrics?.incr('serial_events_ignored_total', { kind }),
      deliver: async (boardId, counter, ageMs, boardEvent) => {
        const eventId = hwEventId(boardId, counter, boardEvent);
        const event = toHwEvent(eventId, this.clock.now() - ageMs, boardEvent);
        // Delivered and ACKed like any other: left on the board it would block every later event (docs/board-link.md §5).
        if (event.kind === 'unmapped') log.error({ eventId, boardEvent }, 'board event does not fit the hw-events schema; delivered as unmapped (a fault)');
        await this.events.deliver(event);
      },
    });
    this.port = new ReconnectingPort({
      path: options.path,
      baudRate: options.baudRate,
      openPort: options.openPort,
      log,
      minDelayMs: options.reopenMinMs ?? 250,
      maxDelayMs: options.reopenMaxMs ?? 10_000,
      onOpen: () => this.onOpen(),
      onData: (chunk) => this.link.receive(chunk),
      onClose: (reason) => this.onClose(reason),
    });
  }

  get linkUp(): boolean {
    return this.up;
  }

  start(): Promise<void> {
    if (!this.started) this.port.start();
    this.started = true;
    if (this.up) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.upWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.options.startWaitMs ?? 3000);
      this.upWaiters.add(done);
    });
  }

  async execute(cmd: HwCommand): Promise<void> {
    switch (cmd.kind) {
      case 'payout': {
        const { known, payout } = await this.call({ name: 'payout', payoutId: cmd.payoutId, coins: cmd.coins }, 'payout_reply');
        // A repeat (known) never pays again; its outcome reaches the sink as the board's own payout events.
        if (known) this.log.info({ payout }, 'payout already known to the board');
        return;
      }
      case 'set_acceptors':
        await this.call({ name: 'set_acceptors', enabled: cmd.enabled, inhibit: cmd.inhibit ?? [] }, 'set_acceptors_reply');
        return;
      case 'display':
        await this.call({ name: 'display', text: truncateUtf8(cmd.text, MAX_DISPLAY_BYTES) }, 'display_reply');
        return;
      case 'report_status': {
        const s = await this.status();
        // A fresh id: an answer is not a physical fact, and a requestId may be reused.
        await this.events.deliver(toStatusReport(`status-${randomUUID()}`, this.clock.now(), cmd.requestId, s));
        return;
      }
    }
  }

  onEvent(fn: EventSink): void {
    this.events.register(fn);
  }

  async status(): Promise<StatusReply> {
    const { name: _name, ...reply } = await this.call({ name: 'status', maxPayouts: this.options.statusPayouts ?? 16 }, 'status_reply');
    return reply;
  }

  counters(): LinkCounters & { linkDowns: number } {
    return { ...this.link.counters(), linkDowns: this.linkDowns };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.endSession();
      await this.port.close();
      this.link.reset('driver closing');
      this.up = false;
      for (const w of this.upWaiters) w();
      await this.events.drained();
    })();
    return this.closing;
  }

  /** One request while up; an `error` answer becomes a DriverError. */
  private async call<K extends Message['name']>(msg: Message, expect: K): Promise<MessageOf<K>> {
    if (!this.up) throw new DriverError('LINK_DOWN', 'board link is down');
    let reply: Message;
    try {
      reply = await this.link.request(msg);
    } catch (err) {
      if (err instanceof PayloadError) throw new DriverError('INVALID', err.message);
      throw err;
    }
    if (reply.name === 'error') throw new DriverError(reply.code === 'refused' ? 'REFUSED' : 'INVALID', `board: ${reply.code}: ${reply.detail}`);
    if (reply.name !== expect) throw new DriverError('INVALID', `expected ${expect}, got ${reply.name}`);
    return reply as MessageOf<K>;
  }

  private onOpen(): void {
    this.endSession();
    const session = new LinkSession({
      link: this.link,
      port: this.port,
      log: this.log,
      pingIntervalMs: this.options.pingIntervalMs ?? 1000,
      onUp: (hello) => {
        this.up = true;
        this.port.resetBackoff();
        this.log.info({ boardId: hello.boardId, eventCounter: hello.eventCounter }, 'board link up');
        this.emitLink(true);
        for (const w of this.upWaiters) w();
      },
    });
    this.session = session;
    session.begin();
  }

  private onClose(reason: string): void {
    this.endSession();
    this.link.reset(reason);
    if (!this.up) return;
    this.up = false;
    this.linkDowns++;
    this.log.warn({ reason }, 'board link down');
    if (!this.closing) this.emitLink(false);
  }

  private endSession(): void {
    this.session?.end();
    this.session = null;
  }

  private emitLink(isUp: boolean): void {
    this.options.metrics?.incr('serial_link_changes_total', { up: String(isUp) });
    this.events
      .deliver({ eventId: `link-${randomUUID()}`, at: this.clock.now(), kind: 'link', up: isUp })
      .catch((err: unknown) => this.log.warn({ err }, 'link event not delivered'));
  }
}
