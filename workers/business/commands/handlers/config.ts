/**
 * `config` (docs/protocol.md#config): change runtime settings. Each setting is
 * validated on its own, so one bad value does not block the rest; accepted
 * ones are persisted in `keys.settings`, announced on `keys.settingsChannel`
 * (the mqtt app reschedules its heartbeat) and applied by the machine. The
 * result lists what was applied and what was rejected, with the reason.
 */
import { runtimeSettingsSchema, type RuntimeSettings } from '../../../../shared/config.js';
import { CommandError } from '../../../../shared/errors.js';
import { settingAliases, writeRuntimeSettings, type SettingName } from '../../../../shared/runtime-settings.js';
import type { ConfigCommand } from '../parse.js';
import type { Handler } from './context.js';

/** Fields of `data` that describe the command rather than a setting. */
const commandFields: ReadonlySet<string> = new Set(['timeout_seconds', 'reason', 'operator_id']);

interface Rejected {
  key: string;
  reason: string;
}

export const config: Handler<ConfigCommand> = async (command, ctx) => {
  const current = await ctx.settings();
  const accepted: Partial<Record<SettingName, unknown>> = {};
  const givenAs: Partial<Record<SettingName, string>> = {};
  const rejected: Rejected[] = [];
  for (const [key, value] of Object.entries(command.data)) {
    if (commandFields.has(key)) continue;
    const name = Object.hasOwn(settingAliases, key) ? settingAliases[key]! : undefined;
    if (!name) {
      rejected.push({ key, reason: '未知的設定項目 (unknown setting)' });
      continue;
    }
    if (givenAs[name] !== undefined) {
      rejected.push({ key, reason: `與 ${givenAs[name]} 重複 (same setting given twice)` });
      continue;
    }
    givenAs[name] = key;
    const parsed = runtimeSettingsSchema.shape[name].safeParse(value);
    if (parsed.success) accepted[name] = parsed.data;
    else rejected.push({ key, reason: `設定值無效 (invalid value): ${parsed.error.issues[0]?.message ?? 'invalid'}` });
  }
  const merged = { ...current, ...accepted } as RuntimeSettings;
  if (merged.lowCoinCritical > merged.lowCoinWarning) {
    // Reject whichever of the pair this command tried to change; the stored pair stays consistent.
    for (const name of ['lowCoinCritical', 'lowCoinWarning'] as const) {
      if (name in accepted) {
        delete accepted[name];
        rejected.push({ key: givenAs[name]!, reason: '低幣量臨界值不可大於警告值 (critical level above warning level)' });
      }
    }
  }
  const appliedNames = Object.keys(accepted) as SettingName[];
  const settings = { ...current, ...accepted } as RuntimeSettings;
  const applied = appliedNames.map((name) => ({ key: givenAs[name]!, setting: name, value: settings[name] }));
  if (appliedNames.length === 0) {
    const detail = rejected.length === 0 ? 'no settings given' : 'every setting was rejected';
    return { status: 'failed', result: { ...new CommandError('INVALID_COMMAND', detail).toResult(), applied, rejected } };
  }
  await writeRuntimeSettings(ctx.redis, ctx.keys, accepted as Partial<RuntimeSettings>, settings);
  await ctx.machine.applySettings(settings);
  ctx.log.info({ applied, rejected }, 'runtime settings changed');
  return { status: 'success', result: { applied, rejected } };
};
