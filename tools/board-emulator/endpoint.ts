/**
 * The board's end of the link (docs/board-link.md §4–§6): answers the
 * agent's requests (a replayed request — same seq, same bytes — gets the
 * saved answer again and is not executed twice), and sends pending events
 * one at a time, retransmitting each until the agent ACKs it.
 */
import { FrameDecoder, encodeFrame, type Frame } from '../../shared/board-link/frame.js';
import { decodePayload, encodePayload, isRequest, typeCode, type Message } from '../../shared/board-link/messages.js';
import { Requester } from '../../shared/board-link/requester.js';
import { PayloadError } from '../../shared/board-link/wire.js';
import type { Machine } from './machine.js';

/** Answers remembered for replayed requests. */
const REPLAY_CACHE = 32;

export interface EndpointOptions {
  write(bytes: Buffer): void;
  /** Event retransmission period, ms. */
  eventRetryMs: number;
  log(line: string): void;
}

export class BoardEndpoint {
  /** What the board received and dropped or de-duplicated. */
  readonly counters = { unknown_type: 0, bad_payload: 0, unexpected: 0, replayed: 0, requests: 0 };
  readonly decoder: FrameDecoder;
  /** A hung board: reads nothing, sends nothing. */
  muted = false;
  /** The last event frame put on the wire, for the `replay` hostile command. */
  lastEventFrame: Buffer | null = null;
  private readonly requester: Requester;
  private readonly answered = new Map<number, { request: string; reply: Buffer }>();
  private sending: number | null = null;

  constructor(
    private readonly machine: Machine,
    private readonly opts: EndpointOptions,
  ) {
    this.decoder = new FrameDecoder((f) => this.onFrame(f));
    this.requester = new Requester({
      send: (frame) => {
        const bytes = encodeFrame(frame);
        this.lastEventFrame = bytes;
        this.send(bytes);
        return true;
      },
      timeoutMs: opts.eventRetryMs,
      retries: Infinity,
    });
  }

  receive(chunk: Buffer): void {
    if (!this.muted) this.decoder.push(chunk);
  }

  /** Bytes for the wire, unless muted. */
  send(bytes: Buffer): void {
    if (!this.muted) this.opts.write(bytes);
  }

  /** Sends the oldest pending event if none is on the wire. */
  pump(): void {
    const head = this.machine.headEvent();
    if (!head || this.sending !== null) return;
    this.sending = head.eventId;
    this.requester
      .request(() => ({ name: 'event', eventId: head.eventId, ageMs: Math.max(0, Date.now() - head.createdAt), event: head.event }))
      .then(
        (reply) => {
          this.sending = null;
          if (reply.name === 'event_ack' && reply.eventId === head.eventId) this.machine.eventAcked(head.eventId);
          else this.opts.log(`unexpected answer to event ${head.eventId}: ${JSON.stringify(reply)}`);
          this.pump();
        },
        (err: Error) => {
          this.sending = null;
          this.opts.log(`event ${head.eventId} not sent: ${err.message}`);
        },
      );
  }

  close(): void {
    this.requester.reset('closing');
  }

  private onFrame(frame: Frame): void {
    let msg: Message | null;
    try {
      msg = decodePayload(frame.type, frame.payload);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      this.counters.bad_payload++;
      return this.reply(frame.seq, { name: 'error', code: 'bad_payload', detail: err.message });
    }
    if (!msg) {
      this.counters.unknown_type++;
      return this.reply(frame.seq, { name: 'error', code: 'unknown_type', detail: `type 0x${frame.type.toString(16)}` });
    }
    if (msg.name === 'event_ack' || msg.name === 'error') {
      if (!this.requester.answer(frame.seq, msg)) this.counters.unexpected++;
      return;
    }
    if (!isRequest(msg.name) || msg.name === 'event') {
      this.counters.unexpected++;
      return;
    }
    const request = `${frame.type}:${frame.payload.toString('hex')}`;
    const seen = this.answered.get(frame.seq);
    if (seen?.request === request) {
      this.counters.replayed++;
      return this.send(seen.reply);
    }
    this.counters.requests++;
    // A new agent session: its seqs start anew, so old answers must not match them.
    if (msg.name === 'hello') this.answered.clear();
    this.reply(frame.seq, this.machine.handle(msg), request);
  }

  private reply(seq: number, msg: Message, request?: string): void {
    const bytes = encodeFrame({ seq, type: typeCode(msg.name), payload: encodePayload(msg) });
    if (request !== undefined) {
      this.answered.set(seq, { request, reply: bytes });
      if (this.answered.size > REPLAY_CACHE) this.answered.delete(this.answered.keys().next().value!);
    }
    this.send(bytes);
  }
}
