/**
 * Command results (`…/commands/{id}/ack`) while the link is down: a command
 * may be executed (coins paid) while the broker is unreachable, and the cloud
 * must still learn its outcome. Results wait in a Redis list (so a restart of
 * the mqtt app keeps them), at most `limit` of them: beyond it the oldest is
 * dropped and counted in `command_results_dropped_total` (the cloud can still
 * ask with the same command_id: a repeat gets the stored result). On
 * reconnect they go out oldest first, and a new result queues behind them so
 * the order holds. A crash between a publish and its removal sends that
 * result once more; results are keyed by command_id, so that is harmless.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../../shared/metrics.js';

export interface ResultBufferDeps {
  redis: Redis;
  key: string;
  limit: number;
  metrics: Metrics;
  log: Logger;
  up: () => boolean;
  publish: (payload: string) => Promise<void>;
}

export class ResultBuffer {
  private flushing: Promise<void> | undefined;

  constructor(private readonly io: ResultBufferDeps) {}

  async send(payload: string): Promise<void> {
    const { redis, key } = this.io;
    if (this.io.up() && !this.flushing && (await redis.llen(key)) === 0) {
      try {
        await this.io.publish(payload);
        return;
      } catch (err) {
        this.io.log.debug({ err: (err as Error).message }, 'publishing a command result failed; it waits for the link');
      }
    }
    await this.hold(payload);
    if (this.io.up()) void this.flush();
  }

  /** Sends what waits, oldest first; stops at the first failure (the next reconnect resumes). */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    const { redis, key } = this.io;
    while (this.io.up()) {
      const payload = await redis.lindex(key, 0);
      if (payload === null) return;
      try {
        await this.io.publish(payload);
      } catch {
        return;
      }
      await redis.lpop(key);
    }
  }

  private async hold(payload: string): Promise<void> {
    const { redis, key, limit } = this.io;
    const length = await redis.rpush(key, payload);
    if (length <= limit) {
      this.io.metrics.set('command_results_buffered', length);
      return;
    }
    await redis.ltrim(key, length - limit, -1);
    this.io.metrics.incr('command_results_dropped_total', undefined, length - limit);
    this.io.metrics.set('command_results_buffered', limit);
    this.io.log.warn({ dropped: length - limit, limit }, 'command result buffer full: oldest results dropped (COINEREX_RESULT_BUFFER_LIMIT)');
  }
}
