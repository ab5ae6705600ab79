/**
 * The sending half of the link (docs/board-link.md §4): numbers requests,
 * retransmits a request with the SAME seq until its answer arrives or the
 * retries run out, and matches answers to requests by seq and expected type.
 * Used by the agent (bounded retries) and by the board emulator (events are
 * retransmitted until ACKed).
 */
import { randomInt } from 'node:crypto';
import type { Frame } from './frame.js';
import { encodePayload, replyTo, typeCode, type Message, type MessageName } from './messages.js';
import { LinkError } from './wire.js';

export interface RequesterOptions {
  /** Writes one frame; false when the port is not open (nothing was written). */
  send(frame: Frame): boolean;
  /** Wait for an answer before retransmitting, ms. */
  timeoutMs: number;
  /** Retransmissions after the first send; Infinity = until answered or reset. */
  retries: number;
  /** Called for every retransmission (counting). */
  onRetransmit?(msg: Message): void;
}

interface Pending {
  expect: MessageName;
  resolve(reply: Message): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class Requester {
  // A random start makes it unlikely that a restarted sender reuses the seq of a request the peer just answered.
  private seq = randomInt(0, 0x10000);
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly opts: RequesterOptions) {}

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends `msg` and resolves with the answer (its expected reply or an
   * `error` message). Rejects with LinkError TIMEOUT when every attempt
   * went unanswered, LINK_DOWN when the port is closed or `reset` is called.
   * A function is called again for each retransmission (fields that age,
   * such as an event's `ageMs`); the seq stays the same.
   */
  request(msg: Message | (() => Message)): Promise<Message> {
    const build = typeof msg === 'function' ? msg : () => msg;
    const first = build();
    const expect = replyTo[first.name];
    if (!expect) return Promise.reject(new LinkError('INVALID', `${first.name} is not a request`));
    const seq = this.nextSeq();
    const frameOf = (m: Message): Frame => ({ seq, type: typeCode(m.name), payload: encodePayload(m) });
    let left = this.opts.retries;
    return new Promise<Message>((resolve, reject) => {
      const attempt = (isFirst: boolean): void => {
        const m = isFirst ? first : build();
        if (!this.opts.send(frameOf(m))) {
          this.settle(seq);
          reject(new LinkError('LINK_DOWN', `cannot send ${m.name}: port not open`));
          return;
        }
        if (!isFirst) this.opts.onRetransmit?.(m);
        const timer = setTimeout(() => {
          if (left-- > 0) return attempt(false);
          this.settle(seq);
          reject(new LinkError('TIMEOUT', `no answer to ${first.name} (seq ${seq})`));
        }, this.opts.timeoutMs);
        this.pending.set(seq, { expect, resolve, reject, timer });
      };
      attempt(true);
    });
  }

  /** Offers an incoming answer; false when no request waits for it (late, replayed or foreign). */
  answer(seq: number, reply: Message): boolean {
    const p = this.pending.get(seq);
    if (!p || (reply.name !== p.expect && reply.name !== 'error')) return false;
    this.settle(seq);
    p.resolve(reply);
    return true;
  }

  /** Fails every waiting request (the link went down). */
  reset(reason: string): void {
    for (const [seq, p] of [...this.pending]) {
      this.settle(seq);
      p.reject(new LinkError('LINK_DOWN', reason));
    }
  }

  private settle(seq: number): void {
    const p = this.pending.get(seq);
    if (p) clearTimeout(p.timer);
    this.pending.delete(seq);
  }

  private nextSeq(): number {
    do this.seq = (this.seq + 1) & 0xffff;
    while (this.pending.has(this.seq));
    return this.seq;
  }
}
