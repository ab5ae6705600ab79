/**
 * One session of the board link: from a port's open to its close
 * (docs/board-link.md §7). HELLO first; once answered in the agent's
 * protocol version the link is up and a ping goes out every interval. No
 * answer to HELLO or to a ping (after the requester's retries), or another
 * version, recycles the port; the next open starts a new session. A session
 * that was ended ignores whatever its requests answer later.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from '../../../shared/logger.js';
import { PROTOCOL_VERSION, type MessageOf } from '../../../shared/board-link/messages.js';
import type { BoardLink } from './board-link.js';
import type { ReconnectingPort } from './reconnecting-port.js';

export interface LinkSessionOptions {
  link: BoardLink;
  port: ReconnectingPort;
  log: Logger;
  pingIntervalMs: number;
  /** The board answered HELLO in our version: the link is up. */
  onUp(hello: MessageOf<'hello_reply'>): void;
}

export class LinkSession {
  private ended = false;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: LinkSessionOptions) {}

  begin(): void {
    this.options.link.hello(randomInt(0, 2 ** 32), PROTOCOL_VERSION).then(
      (reply) => {
        if (this.ended) return;
        if (reply.name === 'error' || reply.version !== PROTOCOL_VERSION) {
          this.options.log.error({ reply }, 'board speaks another protocol version; retrying later');
          this.options.port.recycle('protocol version mismatch');
          return;
        }
        this.options.onUp(reply);
        this.schedulePing();
      },
      (err: Error) => {
        if (this.ended) return;
        this.options.log.debug({ err: err.message }, 'no HELLO answer');
        this.options.port.recycle('no HELLO answer');
      },
    );
  }

  /** The port closed or the driver closes: stop pinging, ignore late answers. */
  end(): void {
    this.ended = true;
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = null;
  }

  private schedulePing(): void {
    this.pingTimer = setTimeout(() => {
      this.options.link.request({ name: 'ping' }).then(
        () => !this.ended && this.schedulePing(),
        (err: Error) => {
          if (this.ended) return;
          this.options.log.warn({ err: err.message }, 'board not answering; reopening the port');
          this.options.port.recycle('board not answering');
        },
      );
    }, this.options.pingIntervalMs);
  }
}
