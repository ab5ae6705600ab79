/**
 * HardwareDriver over the board link on a serial port (docs/board-link.md).
 *
 * Link life cycle: port open → HELLO → up (emit `link` {up:true}, ping every
 * `pingIntervalMs`) → port closed or a ping unanswered → down (emit `link`
 * {up:false}, fail waiting requests) → reopen a NEW port after a back-off →
 * HELLO again. Board events reach the sink one at a time, in board order, and
 * are ACKed to the board only after the sink resolved.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { HwCommand, HwEvent } from '../../../queue/jobs.js';
import { systemClock, type Clock } from '../../../shared/clock.js';
import type { Logger } from '../../../shared/logger.js';
import type { Metrics } from '../../../shared/metrics.js';
import { DriverError, type EventSink, type HardwareDriver } from '../driver.js';
import { BoardLink, type LinkCounters } from './board-link.js';
import { hwEventId, toHwEvent, toStatusReport } from './event-map.js';
import { MAX_DISPLAY_BYTES, PROTOCOL_VERSION, truncateUtf8, type Message, type MessageOf, type StatusReply } from '../../../shared/board-link/messages.js';
import { ReconnectingPort, type PortFactory } from './reconnecting-port.js';
import { PayloadError } from '../../../shared/board-link/wire.js';

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

export function serialDriver(o: SerialDriverOptions): SerialDriver {
  const clock = o.clock ?? systemClock;
  const log = o.log.child({ driver: 'serial', path: o.path });
  const pingIntervalMs = o.pingIntervalMs ?? 1000;
  let sink: EventSink | null = null;
  let started = false;
  let up = false;
  let linkDowns = 0;
  /** Increases with every port session; callbacks of an older session are ignored. */
  let session = 0;
  let pingTimer: NodeJS.Timeout | null = null;
  let closing: Promise<void> | null = null;
  let chain: Promise<void> = Promise.resolve();
  const upWaiters = new Set<() => void>();

  /** Hands events to the sink one at a time, in order; the returned promise settles with this event's delivery. */
  const deliver = (event: HwEvent): Promise<void> => {
    const run = chain.then(async () => {
      if (!sink) throw new DriverError('INVALID', 'no event sink registered');
      await sink(event);
    });
    chain = run.catch(() => undefined);
    return run;
  };

  const link = new BoardLink({
    write: (bytes) => port.write(bytes),
    timeoutMs: o.responseTimeoutMs ?? 300,
    retries: o.retries ?? 3,
    log,
    onReject: (kind) => o.metrics?.incr('serial_input_dropped_total', { kind }),
    onIgnoredEvent: (kind) => o.metrics?.incr('serial_events_ignored_total', { kind }),
    deliver: async (boardId, counter, ageMs, boardEvent) => {
      const eventId = hwEventId(boardId, counter, boardEvent);
      const event = toHwEvent(eventId, clock.now() - ageMs, boardEvent);
      // Delivered and ACKed like any other: left on the board it would block every later event (docs/board-link.md §5).
      if (event.kind === 'unmapped') log.error({ eventId, boardEvent }, 'board event does not fit the hw-events schema; delivered as unmapped (a fault)');
      await deliver(event);
    },
  });

  const emitLink = (isUp: boolean): void => {
    o.metrics?.incr('serial_link_changes_total', { up: String(isUp) });
    deliver({ eventId: `link-${randomUUID()}`, at: clock.now(), kind: 'link', up: isUp }).catch((err: unknown) =>
      log.warn({ err }, 'link event not delivered'),
    );
  };

  const schedulePing = (s: number): void => {
    pingTimer = setTimeout(() => {
      link.request({ name: 'ping' }).then(
        () => s === session && up && schedulePing(s),
        (err: DriverError) => {
          if (s !== session) return;
          log.warn({ err: err.message }, 'board not answering; reopening the port');
          port.recycle('board not answering');
        },
      );
    }, pingIntervalMs);
  };

  const onOpen = (): void => {
    const s = ++session;
    link.hello(randomInt(0, 2 ** 32), PROTOCOL_VERSION).then(
      (reply) => {
        if (s !== session) return;
        if (reply.name === 'error' || reply.version !== PROTOCOL_VERSION) {
          log.error({ reply }, 'board speaks another protocol version; retrying later');
          port.recycle('protocol version mismatch');
          return;
        }
        up = true;
        port.resetBackoff();
        log.info({ boardId: reply.boardId, eventCounter: reply.eventCounter }, 'board link up');
        emitLink(true);
        for (const w of upWaiters) w();
        schedulePing(s);
      },
      (err: DriverError) => {
        if (s !== session) return;
        log.debug({ err: err.message }, 'no HELLO answer');
        port.recycle('no HELLO answer');
      },
    );
  };

  const onClose = (reason: string): void => {
    session++;
    if (pingTimer) clearTimeout(pingTimer);
    pingTimer = null;
    link.reset(reason);
    if (!up) return;
    up = false;
    linkDowns++;
    log.warn({ reason }, 'board link down');
    if (!closing) emitLink(false);
  };

  const port = new ReconnectingPort({
    path: o.path,
    baudRate: o.baudRate,
    openPort: o.openPort,
    log,
    minDelayMs: o.reopenMinMs ?? 250,
    maxDelayMs: o.reopenMaxMs ?? 10_000,
    onOpen,
    onData: (chunk) => link.receive(chunk),
    onClose,
  });

  /** One request while up; an `error` answer becomes a DriverError. */
  const call = async <K extends Message['name']>(msg: Message, expect: K): Promise<MessageOf<K>> => {
    if (!up) throw new DriverError('LINK_DOWN', 'board link is down');
    let reply: Message;
    try {
      reply = await link.request(msg);
    } catch (err) {
      if (err instanceof PayloadError) throw new DriverError('INVALID', err.message);
      throw err;
    }
    if (reply.name === 'error') throw new DriverError(reply.code === 'refused' ? 'REFUSED' : 'INVALID', `board: ${reply.code}: ${reply.detail}`);
    if (reply.name !== expect) throw new DriverError('INVALID', `expected ${expect}, got ${reply.name}`);
    return reply as MessageOf<K>;
  };

  const status = async (): Promise<StatusReply> => {
    const { name: _name, ...reply } = await call({ name: 'status', maxPayouts: o.statusPayouts ?? 16 }, 'status_reply');
    return reply;
  };

  return {
    get linkUp() {
      return up;
    },

    start() {
      if (!started) port.start();
      started = true;
      if (up) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          upWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, o.startWaitMs ?? 3000);
        upWaiters.add(done);
      });
    },

    async execute(cmd: HwCommand) {
      switch (cmd.kind) {
        case 'payout': {
          const { known, payout } = await call({ name: 'payout', payoutId: cmd.payoutId, coins: cmd.coins }, 'payout_reply');
          // A repeat (known) never pays again; its outcome reaches the sink as the board's own payout events.
          if (known) log.info({ payout }, 'payout already known to the board');
          return;
        }
        case 'set_acceptors':
          await call({ name: 'set_acceptors', enabled: cmd.enabled, inhibit: cmd.inhibit ?? [] }, 'set_acceptors_reply');
          return;
        case 'display':
          await call({ name: 'display', text: truncateUtf8(cmd.text, MAX_DISPLAY_BYTES) }, 'display_reply');
          return;
        case 'report_status': {
          const s = await status();
          // A fresh id: an answer is not a physical fact, and a requestId may be reused.
          await deliver(toStatusReport(`status-${randomUUID()}`, clock.now(), cmd.requestId, s));
          return;
        }
      }
    },

    onEvent(fn) {
      sink = fn;
    },

    status,

    counters() {
      return { ...link.counters(), linkDowns };
    },

    close() {
      closing ??= (async () => {
        session++;
        if (pingTimer) clearTimeout(pingTimer);
        await port.close();
        link.reset('driver closing');
        up = false;
        for (const w of upWaiters) w();
        await chain;
      })();
      return closing;
    },
  };
}
