/**
 * The shared life cycle of every PM2 app: load config, make the logger and
 * the app's Redis connection, start, beat for the supervisor, tell PM2
 * `ready`, and shut down in order on SIGINT/SIGTERM
 * (docs/architecture.md#lifecycle). A bad configuration exits 78 with the message.
 */
import type { Redis } from 'ioredis';
import { beat } from './app-health.js';
import { onWallClockGrid } from './clock.js';
import { loadConfig, ConfigError, type Config } from './config.js';
import { makeLogger, type Logger } from './logger.js';
import { redisKeys, type RedisKeys } from './keys.js';
import { workerConnection } from './redis.js';
import { closeInOrder, quitStep } from './close.js';

export interface AppContext {
  app: string;
  config: Config;
  log: Logger;
  keys: RedisKeys;
  /** The app's own Redis connection for state (not for blocking BullMQ reads). */
  redis: Redis;
}

export interface RunningApp {
  /** Stop intake, finish or hand back in-flight work, close connections. Must be idempotent. */
  close(): Promise<void>;
}

/** How long shutdown may take before we give up and exit; below PM2's kill_timeout (ecosystem.config.js). */
export const SHUTDOWN_TIMEOUT_MS = 8_000;
/**
 * Liveness beat period: a third of the watchdog window (the supervisor
 * restarts an app whose beat is older than COINEREX_WATCHDOG_SECONDS), at
 * most 10 s: a beat is no write (shared/app-health.ts), but each one wakes
 * the app and Redis.
 */
export const beatMs = (watchdogSeconds: number): number => Math.min(10_000, Math.floor((watchdogSeconds * 1000) / 3));

export async function runApp(app: string, start: (ctx: AppContext) => Promise<RunningApp>): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`[${app}] ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const log = makeLogger(app, config.logLevel);
  const keys = redisKeys(config.redisPrefix, config.deviceId);
  const redis = workerConnection(config.redisUrl, `${config.deviceId}:${app}`);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));

  let running: RunningApp | undefined;
  let closing: Promise<void> | undefined;
  // Not a write (shared/app-health.ts: beat); on the wall-clock grid like every app's periodic work.
  const beatNow = () => beat(redis, keys, app, Date.now()).catch(() => undefined);
  const stopBeat = onWallClockGrid(beatMs(config.watchdogSeconds), beatNow);

  // The app's own sequence first (intake, job in hand, queues), then the connection the runner made.
  const closeAll = closeInOrder(
    () => [
      { name: 'liveness beat', run: stopBeat },
      running && { name: app, run: () => running?.close() },
      quitStep('redis', redis),
    ],
    { log },
  );
  const shutdown = (reason: string, code: number): Promise<void> => {
    if (closing) return closing;
    log.info({ reason }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(code || 1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    closing = closeAll().then(() => {
      log.info('stopped');
      log.flush?.();
      process.exitCode = code;
      // Leave the event loop to drain; the force timer is unref'd.
      setTimeout(() => process.exit(code), 50).unref();
    });
    return closing;
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('message', (msg) => {
    // PM2 on some platforms sends 'shutdown' instead of a signal.
    if (msg === 'shutdown') void shutdown('pm2 shutdown', 0);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    void shutdown('unhandled rejection', 1);
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    void shutdown('uncaught exception', 1);
  });

  try {
    running = await start({ app, config, log, keys, redis });
  } catch (err) {
    log.fatal({ err }, 'failed to start');
    await shutdown('start failed', 1);
    return;
  }
  await beatNow();
  log.info({ deviceId: config.deviceId, mode: config.mode }, 'started');
  process.send?.('ready');
}
