/**
 * The heartbeat's data (docs/protocol.md#heartbeat): device health from the OS, machine
 * health from the business app's state (read only), and, on a `query` with
 * `include_diagnostics`, the agent's queues and delivery state.
 *
 * `uptime_seconds` is the board's uptime (os.uptime, i.e. /proc/uptime): the
 * cloud asks how long the machine has been up, and an agent restart already
 * shows as a reconnect.
 */
import type { Redis } from 'ioredis';
import { formatTimestamp, localDay, type Clock, type TimestampFormat } from '../../shared/clock.js';
import { alarmCodes, errorCodes } from '../../shared/codes.js';
import type { RedisKeys } from '../../shared/keys.js';
import { readMachineSnapshot, type MachineSnapshot } from '../../shared/machine-state.js';
import type { HeartbeatData } from '../../shared/messages.js';
import type { SystemHealth } from '../../shared/system-health.js';
import type { NetworkQualityLevel } from './network-quality.js';

export interface HeartbeatSources {
  redis: Redis;
  keys: RedisKeys;
  clock: Clock;
  timezone: string;
  timestampFormat: TimestampFormat;
  firmwareVersion: string;
  systemHealth: () => Promise<SystemHealth>;
  networkQuality: () => NetworkQualityLevel;
  uptimeSeconds: () => number;
  diagnostics: () => Promise<Record<string, unknown>>;
}

export interface ActiveIssue {
  type: 'error' | 'alarm';
  code: number;
  description: string;
  severity: string;
}

export function activeIssues(s: MachineSnapshot): ActiveIssue[] {
  return [
    ...s.activeErrors.map((code) => ({ type: 'error' as const, code, description: errorCodes.get(code)?.description ?? '未知故障', severity: errorCodes.get(code)?.severity ?? 'medium' })),
    ...s.activeAlarms.map((code) => ({ type: 'alarm' as const, code, description: alarmCodes.get(code)?.description ?? '未知警告', severity: alarmCodes.get(code)?.severity ?? 'warning' })),
  ];
}

/** `degraded` while any error is active or any unit is not fully operational. */
export function healthStatus(s: MachineSnapshot): 'online' | 'degraded' {
  const units = Object.values(s.serviceStatus);
  return s.activeErrors.length > 0 || units.some((u) => u !== 'operational') ? 'degraded' : 'online';
}

export async function buildHeartbeatData(src: HeartbeatSources, opts: { diagnostics: boolean }): Promise<HeartbeatData> {
  const now = src.clock.now();
  // The guide gives these as numbers: 0 = none yet (no transaction since the counters began, no maintenance recorded).
  const ts = (ms: number | null) => (ms === null ? 0 : formatTimestamp(ms, src.timestampFormat));
  const [snapshot, health, diagnostics] = await Promise.all([
    readMachineSnapshot(src.redis, src.keys, localDay(now, src.timezone)),
    src.systemHealth(),
    opts.diagnostics ? src.diagnostics() : Promise.resolve(undefined),
  ]);
  const data: HeartbeatData = {
    status: healthStatus(snapshot),
    firmware_version: src.firmwareVersion,
    uptime_seconds: Math.max(0, Math.floor(src.uptimeSeconds())),
    last_transaction: ts(snapshot.lastTransactionAt),
    network_quality: src.networkQuality(),
    // 0 without a sensor, as the guide's get_cpu_temperature() does.
    system_health: { ...health, temperature: health.temperature ?? 0 },
    service_status: { ...snapshot.serviceStatus },
    active_issues: activeIssues(snapshot),
    statistics: {
      transactions_today: snapshot.today.transactions,
      coins_dispensed_today: snapshot.today.coins_dispensed,
      error_count_today: snapshot.today.errors,
      last_maintenance: ts(snapshot.lastMaintenanceAt),
    },
  };
  if (diagnostics) data.diagnostics = diagnostics;
  return data;
}
