/**
 * Restart requests pushed by the business app's `restart` command
 * (docs/protocol.md#7-commands, shared/restart-request.ts): soft restarts the agent's
 * apps through PM2, the supervisor itself last; hard reboots the board.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisKeys } from '../shared/keys.js';
import type { Metrics } from '../shared/metrics.js';
import { restartRequestSchema, type RestartRequest } from '../shared/restart-request.js';
import type { ManagedProcess, ProcessControl } from './process-control.js';

/** Apps a soft restart restarts, in this order; the supervisor follows last. */
export const softRestartOrder = ['hardware', 'business', 'mqtt'] as const;

/** A request older than this is dropped: it was made before the board (or the supervisor) went down, so that restart already happened. */
export const REQUEST_MAX_AGE_MS = 10 * 60_000;

/** Pops the oldest request; malformed or stale ones are logged and dropped. */
export async function takeRestartRequest(redis: Redis, keys: RedisKeys, now: number, log: Logger): Promise<RestartRequest | null> {
  const raw = await redis.lpop(keys.restartRequests);
  if (raw === null) return null;
  let parsed;
  try {
    parsed = restartRequestSchema.safeParse(JSON.parse(raw));
  } catch {
    parsed = null;
  }
  if (!parsed?.success) {
    log.error({ raw: raw.slice(0, 500) }, 'malformed restart request dropped');
    return null;
  }
  if (now - parsed.data.at > REQUEST_MAX_AGE_MS) {
    log.warn({ request: parsed.data }, 'stale restart request dropped');
    return null;
  }
  return parsed.data;
}

export interface RestartExecutor {
  execute(request: RestartRequest, procs: readonly ManagedProcess[], busy: Set<string>): Promise<void>;
}

export interface RestartExecutorOptions {
  control: ProcessControl;
  metrics: Metrics;
  log: Logger;
  /** This app's PM2 name; restarted last. */
  self: string;
  /** COINEREX_ALLOW_HARD_RESTART. */
  allowHardRestart: boolean;
  /** Reboots the board (`systemctl reboot`). */
  reboot: () => Promise<void>;
}

export function restartExecutor(o: RestartExecutorOptions): RestartExecutor {
  const restartOne = async (name: string, busy: Set<string>) => {
    busy.add(name);
    o.metrics.incr('app_restarts_total', { app: name, reason: 'soft_restart' });
    try {
      await o.control.restart(name);
      o.log.info({ app: name }, 'app restarted (soft restart)');
    } catch (err) {
      o.log.error({ app: name, err: (err as Error).message }, 'soft restart of app failed');
    } finally {
      busy.delete(name);
    }
  };
  return {
    async execute(request, procs, busy) {
      if (request.type === 'hard') {
        if (!o.allowHardRestart) {
          o.log.error({ request }, 'hard restart requested but COINEREX_ALLOW_HARD_RESTART is off; ignored');
          return;
        }
        o.log.warn({ request }, 'rebooting the board');
        await o.reboot().catch((err: Error) => o.log.error({ err: err.message }, 'reboot failed'));
        return;
      }
      o.log.warn({ request }, 'soft restart of the agent');
      const online = new Set(procs.filter((p) => p.status === 'online').map((p) => p.name));
      // One at a time: each app finishes or hands back its in-flight work before the next goes down.
      for (const name of softRestartOrder) if (online.has(name)) await restartOne(name, busy);
      if (online.has(o.self)) await restartOne(o.self, busy);
    },
  };
}
