/**
 * The agent's end of the board link over any byte stream (docs/board-link.md
 * §4, §6): decodes frames, answers matched replies, and hands each board
 * event to `deliver` exactly once per link lifetime, ACKing it only after
 * `deliver` resolved. An event that cannot be delivered is not ACKed: the
 * board keeps it and retransmits, so nothing is lost.
 */
import type { Logger } from '../../../shared/logger.js';
import { FrameDecoder, encodeFrame, type DecoderCounters, type Frame } from '../../../shared/board-link/frame.js';
import {
  UnknownEventKindError,
  decodePayload,
  encodePayload,
  typeCode,
  type BoardEvent,
  type Message,
  type MessageOf,
} from '../../../shared/board-link/messages.js';
import { Requester } from '../../../shared/board-link/requester.js';
import { LinkError, PayloadError } from '../../../shared/board-link/wire.js';
import { DriverError } from '../driver.js';

export interface LinkCounters extends DecoderCounters {
  /** Well-formed frames of a type this agent does not know. */
  unknown_type: number;
  /** Frames whose payload does not fit their type. */
  bad_payload: number;
  /** Events of a kind this agent does not know (never ACKed). */
  unknown_event: number;
  /** Answers nobody waits for (late, replayed) and board requests the agent does not serve. */
  unexpected: number;
  /** Events seen again after delivery (re-ACKed, not delivered). */
  duplicate_event: number;
  /** Events that arrived before the HELLO handshake (left to the board's retransmission). */
  early_event: number;
  events: number;
  retransmits: number;
}
export type RejectKind = Exclude<keyof LinkCounters, 'frames' | 'events' | 'retransmits' | 'duplicate_event' | 'early_event'>;

export interface BoardLinkOptions {
  /** Writes bytes to the port; false when it is not open. */
  write(bytes: Buffer): boolean;
  /** Answer wait before a retransmission, ms. */
  timeoutMs: number;
  /** Retransmissions of a request. */
  retries: number;
  log: Logger;
  /** Resolves once the event is safely handed on; only then is it ACKed. */
  deliver(boardId: string, eventId: number, ageMs: number, event: BoardEvent): Promise<void>;
  /** Called for each dropped frame or byte run (metrics). */
  onReject?(kind: RejectKind): void;
  /** An event not handed on: a repeat already delivered (ACKed again), or one before the handshake. */
  onIgnoredEvent?(kind: 'duplicate_event' | 'early_event'): void;
}

/** Log at most one warning per reason per this period, with the count in between: hostile input must not flood the SD card. */
const WARN_EVERY_MS = 10_000;

export class BoardLink {
  private readonly own: Omit<LinkCounters, keyof DecoderCounters> = {
    unknown_type: 0,
    bad_payload: 0,
    unknown_event: 0,
    unexpected: 0,
    duplicate_event: 0,
    early_event: 0,
    events: 0,
    retransmits: 0,
  };
  private readonly decoder: FrameDecoder;
  private readonly requester: Requester;
  /** Board whose events are accepted; null until HELLO answered in this port session. */
  private boardId: string | null = null;
  /** Highest delivered event id per board: lives as long as the driver, across link sessions. */
  private readonly delivered = new Map<string, number>();
  private inFlight: { boardId: string; eventId: number; seq: number } | null = null;
  private readonly lastWarn = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly opts: BoardLinkOptions) {
    this.decoder = new FrameDecoder(
      (f) => this.onFrame(f),
      (reason) => this.reject(reason),
    );
    this.requester = new Requester({
      send: (frame) => opts.write(encodeFrame(frame)),
      timeoutMs: opts.timeoutMs,
      retries: opts.retries,
      onRetransmit: () => void this.own.retransmits++,
    });
  }

  /** A snapshot of every counter. */
  counters(): LinkCounters {
    return { ...this.decoder.counters, ...this.own };
  }

  receive(chunk: Buffer): void {
    this.decoder.push(chunk);
  }

  /** Sends a request; resolves with its answer or an `error` message (see Requester), rejects with a DriverError. */
  request(msg: Message): Promise<Message> {
    return this.requester.request(msg).catch((err: unknown) => {
      throw err instanceof LinkError ? new DriverError(err.code, err.message) : err;
    });
  }

  /** HELLO handshake: from its answer on, events of that board are accepted. */
  async hello(nonce: number, version: number): Promise<MessageOf<'hello_reply'> | MessageOf<'error'>> {
    const reply = (await this.request({ name: 'hello', nonce, version })) as MessageOf<'hello_reply'> | MessageOf<'error'>;
    if (reply.name === 'hello_reply') this.boardId = reply.boardId;
    return reply;
  }

  /** The port closed or the board went silent: fail waiting requests, stop accepting events until the next HELLO. */
  reset(reason: string): void {
    this.boardId = null;
    this.requester.reset(reason);
  }

  private onFrame(frame: Frame): void {
    let msg: Message | null;
    try {
      msg = decodePayload(frame.type, frame.payload);
    } catch (err) {
      if (err instanceof UnknownEventKindError) return this.reject('unknown_event', err.message);
      if (err instanceof PayloadError) return this.reject('bad_payload', `type 0x${frame.type.toString(16)}: ${err.message}`);
      throw err;
    }
    if (!msg) return this.reject('unknown_type', `type 0x${frame.type.toString(16)}`);
    if (msg.name === 'event') return this.onEvent(frame.seq, msg);
    if (!this.requester.answer(frame.seq, msg)) this.reject('unexpected', `${msg.name} seq ${frame.seq}`);
  }

  private onEvent(seq: number, msg: MessageOf<'event'>): void {
    const boardId = this.boardId;
    if (!boardId) {
      this.own.early_event++;
      this.opts.onIgnoredEvent?.('early_event');
      return;
    }
    const { eventId } = msg;
    if (eventId <= (this.delivered.get(boardId) ?? 0)) {
      this.own.duplicate_event++;
      this.opts.onIgnoredEvent?.('duplicate_event');
      this.ack(seq, eventId);
      return;
    }
    if (this.inFlight) {
      // A retransmission while the first copy is still being handed on: ACK it with the newest seq once done.
      if (this.inFlight.boardId === boardId && this.inFlight.eventId === eventId) this.inFlight.seq = seq;
      return;
    }
    const flight = { boardId, eventId, seq };
    this.inFlight = flight;
    this.opts.deliver(boardId, eventId, msg.ageMs, msg.event).then(
      () => {
        this.own.events++;
        this.delivered.set(boardId, Math.max(eventId, this.delivered.get(boardId) ?? 0));
        this.inFlight = null;
        this.ack(flight.seq, eventId);
      },
      (err: unknown) => {
        this.inFlight = null;
        this.warnLimited('undelivered', 'warn', { err, eventId, boardId }, 'board event not delivered; left to the board to retransmit');
      },
    );
  }

  private ack(seq: number, eventId: number): void {
    this.opts.write(encodeFrame({ seq, type: typeCode('event_ack'), payload: encodePayload({ name: 'event_ack', eventId }) }));
  }

  private reject(kind: RejectKind, detail?: string): void {
    if (kind in this.own) this.own[kind as keyof typeof this.own]++;
    this.opts.onReject?.(kind);
    if (kind === 'garbage') return;
    this.warnLimited(kind, kind === 'unknown_event' ? 'error' : 'warn', { kind, detail, counters: this.counters() }, 'board link dropped input');
  }

  private warnLimited(key: string, level: 'warn' | 'error', obj: object, msg: string): void {
    const now = Date.now();
    const w = this.lastWarn.get(key);
    if (w && now - w.at < WARN_EVERY_MS) {
      w.suppressed++;
      return;
    }
    this.lastWarn.set(key, { at: now, suppressed: 0 });
    this.opts.log[level]({ ...obj, suppressed: w?.suppressed ?? 0 }, msg);
  }
}
