/**
 * Runtime settings (docs/protocol.md#config): the configured values
 * (shared/config.ts) overridden by what the cloud set, which is persisted in
 * the Redis hash `keys.settings` (field = setting name as in
 * `runtimeSettingsSchema`, value = JSON) and announced on
 * `keys.settingsChannel` (message: JSON `{ changed: string[], settings }`).
 * Every app reads its live settings here, so a change survives restarts.
 */
import type { Redis } from 'ioredis';
import { runtimeSettingsSchema, type Config, type RuntimeSettings } from './config.js';
import type { RedisKeys } from './keys.js';

export type SettingName = keyof RuntimeSettings;
export const settingNames = Object.keys(runtimeSettingsSchema.shape) as SettingName[];

/**
 * The names a `config` command may use for each setting: ours, and the
 * snake_case forms of the protocol documents.
 */
export const settingAliases: Readonly<Record<string, SettingName>> = {
  heartbeatSeconds: 'heartbeatSeconds',
  heartbeat_seconds: 'heartbeatSeconds',
  heartbeat_interval: 'heartbeatSeconds',
  statusSeconds: 'statusSeconds',
  status_seconds: 'statusSeconds',
  status_interval: 'statusSeconds',
  lowCoinWarning: 'lowCoinWarning',
  low_coin_warning: 'lowCoinWarning',
  low_coin_threshold: 'lowCoinWarning',
  lowCoinCritical: 'lowCoinCritical',
  low_coin_critical: 'lowCoinCritical',
  dispenseMaxPerCommand: 'dispenseMaxPerCommand',
  dispense_max_per_command: 'dispenseMaxPerCommand',
  max_coins_per_command: 'dispenseMaxPerCommand',
  dispenseMaxPerDay: 'dispenseMaxPerDay',
  dispense_max_per_day: 'dispenseMaxPerDay',
  max_coins_per_day: 'dispenseMaxPerDay',
  bonusTable: 'bonusTable',
  bonus_table: 'bonusTable',
};

export interface SettingsChange {
  changed: SettingName[];
  settings: RuntimeSettings;
}

/** The settings as configured, before any cloud override. */
export function configuredSettings(config: Config): RuntimeSettings {
  return Object.fromEntries(settingNames.map((name) => [name, config[name]])) as RuntimeSettings;
}

/**
 * Configured settings merged with the persisted overrides. A stored value
 * that no longer validates (e.g. written by an older version) is ignored
 * rather than stopping the app.
 */
export async function readRuntimeSettings(redis: Redis, keys: RedisKeys, config: Config): Promise<RuntimeSettings> {
  const stored = await redis.hgetall(keys.settings);
  const merged: Record<string, unknown> = { ...configuredSettings(config) };
  for (const name of settingNames) {
    const raw = stored[name];
    if (raw === undefined) continue;
    try {
      const parsed = runtimeSettingsSchema.shape[name].safeParse(JSON.parse(raw));
      if (parsed.success) merged[name] = parsed.data;
    } catch {
      // Unparseable JSON: keep the configured value.
    }
  }
  return merged as RuntimeSettings;
}

/** Persists overrides and announces them (one MULTI, so readers never see half a change). */
export async function writeRuntimeSettings(redis: Redis, keys: RedisKeys, changed: Partial<RuntimeSettings>, settings: RuntimeSettings): Promise<void> {
  const names = Object.keys(changed) as SettingName[];
  if (names.length === 0) return;
  const fields = names.flatMap((name) => [name, JSON.stringify(changed[name])]);
  const message: SettingsChange = { changed: names, settings };
  const replies = await redis.multi().hset(keys.settings, ...fields).publish(keys.settingsChannel, JSON.stringify(message)).exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('settings write aborted');
}
