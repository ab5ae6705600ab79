/**
 * Runtime settings this app follows (PROTOCOL.md §7 `config`): the business
 * app writes them to `keys.settings` (hash, one field per setting) and
 * announces a change on `keys.settingsChannel`. Stored values override the
 * configuration; an unreadable stored value is ignored.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { runtimeSettingsSchema, type Config } from '../../shared/config.js';
import type { RedisKeys } from '../../shared/keys.js';

export interface MqttSettings {
  heartbeatSeconds: number;
  lowCoinWarning: number;
  lowCoinCritical: number;
}

const fields = ['heartbeatSeconds', 'lowCoinWarning', 'lowCoinCritical'] as const;

export async function readSettings(redis: Redis, keys: RedisKeys, config: Config): Promise<MqttSettings> {
  const stored = await redis.hmget(keys.settings, ...fields);
  const out: MqttSettings = { heartbeatSeconds: config.heartbeatSeconds, lowCoinWarning: config.lowCoinWarning, lowCoinCritical: config.lowCoinCritical };
  fields.forEach((f, i) => {
    const raw = stored[i];
    if (raw === null || raw === undefined) return;
    const r = runtimeSettingsSchema.shape[f].safeParse(Number(raw));
    if (r.success) out[f] = r.data;
  });
  return out;
}

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
