/** What every `coinerex` command repeats: loading the configuration and a short-lived Redis connection. */
import { Redis } from 'ioredis';
import { loadConfig, ConfigError, type Config } from '../shared/config.js';

/** Exit code for a bad configuration (sysexits EX_CONFIG), as the apps use. */
export const EXIT_CONFIG = 78;
/** Exit code when Redis or the broker cannot be reached (sysexits EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;

/** The configuration, or null after printing why it is bad (exit with EXIT_CONFIG). */
export function cliConfig(command: string, env: NodeJS.ProcessEnv = process.env, print: (s: string) => void = (s) => process.stderr.write(s)): Config | null {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    print(`coinerex ${command}: ${err.message}\n`);
    return null;
  }
}

/** A connection that fails fast instead of retrying: a CLI reports an unreachable Redis at once. */
export function cliRedis(url: string): Redis {
  const redis = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}
