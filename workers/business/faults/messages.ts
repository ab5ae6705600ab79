/**
 * `error` and `alarm` message data (docs/protocol.md#error), built from the code
 * tables in shared/codes.ts: nothing about a code is written here.
 */
import {
  affectedFunctions,
  alarmCodes,
  errorCodes,
  recoveryConditions,
  securityCodes,
} from '../../../shared/codes.js';
import type { AlarmData, ErrorData } from '../../../shared/messages.js';

export type CodeState = 'raised' | 'cleared';

export function errorData(code: number, state: CodeState, context: Record<string, unknown>, serviceAvailable: boolean): ErrorData {
  const info = errorCodes.get(code);
  if (!info) throw new Error(`unknown error code ${code}`);
  const data: ErrorData = {
    error_code: code,
    error_description: info.description,
    error_category: info.category,
    severity: info.severity,
    suggested_action: info.suggestedAction,
    auto_recoverable: info.autoRecoverable,
    affected_functions: [...affectedFunctions[info.category]],
    context,
    impact: {
      service_available: serviceAvailable,
      // The guide's words: a raised 42 (no coins) needs a person now; otherwise unknown.
      estimated_downtime: code === 42 && state === 'raised' ? 'immediate_action_required' : 'unknown',
    },
    state,
  };
  if (securityCodes.has(code)) data.security = { suspected_attack: state === 'raised', auto_locked: false };
  if (info.autoRecoverable) data.recovery = { automatic: true, condition: recoveryConditions[code] ?? null, recovered: state === 'cleared' };
  return data;
}

export function alarmData(
  code: number,
  state: CodeState,
  currentLevel: number | string | null,
  details: Record<string, unknown>,
  serviceAvailable: boolean,
): AlarmData {
  const info = alarmCodes.get(code);
  if (!info) throw new Error(`unknown alarm code ${code}`);
  return {
    alarm_code: code,
    alarm_description: info.description,
    severity: info.severity,
    current_level: currentLevel,
    recommended_action: info.recommendedAction,
    details,
    impact: { service_available: serviceAvailable },
    state,
  };
}
