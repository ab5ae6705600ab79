/**
 * Error, alarm and machine-status codes of docs/protocol.md#6-error-and-alarm-codes and docs/protocol.md#1-money-and-machine-facts, as data.
 * Severity, recoverability and affected functions are looked up here, never
 * written inline.
 */
export type ErrorCategory =
  | 'system' | 'counter' | 'config' | 'coin_acceptor' | 'bill_acceptor' | 'dispenser' | 'ledger' | 'security';
export type Severity = 'critical' | 'high' | 'medium';

export interface ErrorCodeInfo {
  code: number;
  description: string;
  category: ErrorCategory;
  severity: Severity;
  suggestedAction: string;
  autoRecoverable: boolean;
}

const e = (code: number, description: string, category: ErrorCategory, severity: Severity, suggestedAction: string, autoRecoverable: boolean): ErrorCodeInfo =>
  ({ code, description, category, severity, suggestedAction, autoRecoverable });

export const errorCodes: ReadonlyMap<number, ErrorCodeInfo> = new Map(
  [
    e(1, '記憶異常', 'system', 'critical', '送修', false),
    e(2, '碼錶異常', 'counter', 'high', '檢查碼錶是否異常或配線', false),
    e(6, '兌幣設定異常', 'config', 'medium', '檢查出幣設定，設定後重開', false),
    e(7, '入幣設定異常', 'config', 'medium', '檢查入幣設定，設定後重開', false),
    e(8, '紙鈔設定異常(RS232)', 'config', 'medium', '檢查紙鈔設定，設定後重開', false),
    e(9, '紙鈔設定異常(Pulse)', 'config', 'medium', '檢查紙鈔設定，設定後重開', false),
    e(11, '投幣器訊號間隔過短', 'coin_acceptor', 'high', '防電擊機制，進設定解除故障', false),
    e(12, '投幣器訊號-脈衝異常', 'coin_acceptor', 'high', '防釣魚機制，進設定解除故障', false),
    e(13, '投幣器訊號常駐', 'coin_acceptor', 'high', '沒接投幣器或配線/未扳NO', true),
    e(21, '紙鈔機異常(RS232)', 'bill_acceptor', 'high', '檢查紙鈔機連線和電源', true),
    e(22, '紙鈔機訊號-脈衝異常', 'bill_acceptor', 'high', '防釣魚機制，進設定解除故障', false),
    e(23, '紙鈔器訊號常駐', 'bill_acceptor', 'high', '沒接紙鈔機或配線/未扳NC', true),
    e(41, '退幣器故障', 'dispenser', 'critical', '檢查退幣機有無異常', false),
    e(42, '退幣器已無硬幣', 'dispenser', 'critical', '補充硬幣', false),
    e(43, '退幣機異常出幣', 'dispenser', 'high', '防電擊機制，進設定解除故障', false),
    e(44, '退幣器達低水位', 'dispenser', 'high', '補充硬幣', true),
    e(51, '兌幣紀錄異常', 'ledger', 'medium', '進設定清除上一筆交易內容', false),
    e(52, '達出幣上限', 'ledger', 'medium', '進後台結算功能歸0', false),
    e(99, '遠端預警異常鎖機', 'security', 'high', '進設定解除故障', false),
  ].map((x) => [x.code, x]),
);

/** What clears an auto-recoverable code by itself: the `recovery` block of its error message (docs/protocol.md#error). */
export const recoveryConditions: Readonly<Record<number, string>> = {
  13: '投幣器訊號恢復正常',
  21: '紙鈔機連線與電源恢復',
  23: '紙鈔器訊號恢復正常',
  44: '硬幣補充至低水位以上',
};

/** Codes that carry the `security` block (docs/protocol.md#error). */
export const securityCodes: ReadonlySet<number> = new Set([11, 12, 22, 43]);

/** Functions a category puts out of service (docs/protocol.md#6-error-and-alarm-codes). */
export const affectedFunctions: Readonly<Record<ErrorCategory, readonly string[]>> = {
  system: ['exchange', 'coin_dispense', 'coin_accept', 'bill_accept'],
  counter: ['accounting'],
  config: ['exchange'],
  coin_acceptor: ['coin_accept', 'exchange'],
  bill_acceptor: ['bill_accept'],
  dispenser: ['coin_dispense', 'exchange'],
  ledger: ['exchange'],
  security: ['exchange', 'coin_dispense'],
};

/** Critical codes make the service unavailable (docs/protocol.md#6-error-and-alarm-codes). */
export const isCritical = (code: number): boolean => errorCodes.get(code)?.severity === 'critical';

/** The error and alarm codes active on the machine. */
export interface ActiveCodes {
  errors: readonly number[];
  alarms: readonly number[];
}

/** Critical errors and alarms 2 (door) and 3 (paused) put the service out (docs/protocol.md#6-error-and-alarm-codes). */
export function serviceAvailable(active: ActiveCodes): boolean {
  return !active.errors.some(isCritical) && !active.alarms.some((a) => alarmCodes.get(a)?.serviceAvailable === false);
}

const severityRank: Record<Severity, number> = { critical: 3, high: 2, medium: 1 };

/** The most severe active error code, 0 when none (accounting `codes.error_code`). */
export function mostSevereError(active: Iterable<number>): number {
  let best = 0;
  let bestRank = 0;
  for (const code of active) {
    const rank = severityRank[errorCodes.get(code)?.severity ?? 'medium'];
    if (rank > bestRank || (rank === bestRank && code < best)) {
      best = code;
      bestRank = rank;
    }
  }
  return best;
}

export interface AlarmCodeInfo {
  code: number;
  description: string;
  recommendedAction: string;
  severity: 'warning' | 'info';
  serviceAvailable: boolean;
}

export const alarmCodes: ReadonlyMap<number, AlarmCodeInfo> = new Map(
  [
    { code: 1, description: '低幣量', recommendedAction: '儘快補充硬幣', severity: 'warning' as const, serviceAvailable: true },
    { code: 2, description: '前門開啟', recommendedAction: '檢查門鎖狀態', severity: 'warning' as const, serviceAvailable: false },
    { code: 3, description: '暫停兌幣', recommendedAction: '檢查設定狀態', severity: 'info' as const, serviceAvailable: false },
  ].map((x) => [x.code, x]),
);

/** The most severe active alarm (warnings before info, then the lower code), 0 when none. */
export function mostSevereAlarm(active: Iterable<number>): number {
  const list = [...active].filter((c) => alarmCodes.has(c));
  list.sort((a, b) => (alarmCodes.get(a)!.severity === alarmCodes.get(b)!.severity ? a - b : alarmCodes.get(a)!.severity === 'warning' ? -1 : 1));
  return list[0] ?? 0;
}

/** Machine status codes (docs/protocol.md#1-money-and-machine-facts). */
export const machineStatus = {
  inquiry: 0,
  standby: 1,
  remote: 3,
  fault: 4,
} as const;
export type MachineStatus = (typeof machineStatus)[keyof typeof machineStatus];

export const machineStatusDescription: Readonly<Record<MachineStatus, string>> = {
  0: '詢問',
  1: '待機',
  3: '遠端',
  4: '故障',
};
