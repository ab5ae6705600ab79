/**
 * Follows runtime-setting changes (docs/protocol.md#config): the business
 * app persists them in `keys.settings` and announces them on
 * `keys.settingsChannel` (shared/runtime-settings.ts). The caller re-reads
 * the settings on each announcement.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisKeys } from '../../shared/keys.js';

/** Subscribes `sub` (a connection of its own: subscriber mode blocks other commands) to settings changes. */
export async function watchSettings(sub: Redis, keys: RedisKeys, onChange: () => void, log: Logger): Promise<() => Promise<void>> {
  sub.on('message', (channel: string) => {
    if (channel === keys.settingsChannel) onChange();
  });
  await sub.subscribe(keys.settingsChannel);
  return async () => {
    await sub.unsubscribe(keys.settingsChannel).catch((err: Error) => log.debug({ err: err.message }, 'unsubscribe failed'));
  };
}
