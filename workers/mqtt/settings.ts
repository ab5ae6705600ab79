/**
 * Follows runtime-setting changes (docs/protocol.md#config): the business
 * app persists them in `keys.settings` and announces them on
 * `keys.settingsChannel` (shared/runtime-settings.ts); each announcement
 * re-reads them.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config, RuntimeSettings } from '../../shared/config.js';
import type { RedisKeys } from '../../shared/keys.js';
import { readRuntimeSettings } from '../../shared/runtime-settings.js';

export interface LiveSettings {
  current(): RuntimeSettings;
  /** Unsubscribes; the subscriber connection stays open for its owner to close. */
  stop(): Promise<void>;
}

/**
 * Reads the settings, then keeps them current. `subscriber` is a connection of
 * its own (subscriber mode blocks other commands); `onChange` hears every re-read.
 */
export async function followSettings(
  redis: Redis,
  subscriber: Redis,
  keys: RedisKeys,
  config: Config,
  onChange: (next: RuntimeSettings, previous: RuntimeSettings) => void,
  log: Logger,
): Promise<LiveSettings> {
  let settings = await readRuntimeSettings(redis, keys, config);
  subscriber.on('message', (channel: string) => {
    if (channel !== keys.settingsChannel) return;
    void readRuntimeSettings(redis, keys, config)
      .then((next) => {
        const previous = settings;
        settings = next;
        onChange(next, previous);
      })
      .catch((err) => log.error({ err }, 'reading settings failed'));
  });
  await subscriber.subscribe(keys.settingsChannel);
  return {
    current: () => settings,
    stop: async () => {
      await subscriber.unsubscribe(keys.settingsChannel).catch((err: Error) => log.debug({ err: err.message }, 'unsubscribe failed'));
    },
  };
}
