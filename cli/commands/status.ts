/**
 * `coinerex status [--json]`: the machine as the agent's Redis holds it —
 * counters, inventory, debt, lock, active codes, delivery (pending ACKs,
 * offline buffer, failed, dropped), broker link and per-app health from the
 * supervisor. Exit codes: 0 shown, 2 bad arguments, 69 Redis unreachable,
 * 78 bad configuration.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config.js';
import { cliConfig, cliRedis, EXIT_CONFIG, EXIT_UNAVAILABLE } from '../support.js';
import { redisKeys } from '../../shared/keys.js';
import { localDay, localParts } from '../../shared/clock.js';
import { alarmCodes, errorCodes, machineStatusDescription } from '../../shared/codes.js';
import { readMachineSnapshot, type MachineSnapshot } from '../../shared/machine-state.js';
import { readDeliveryStats, type DeliveryStats } from '../../shared/delivery-state.js';
import { readAppsHealth, readMqttLink, type AppHealth, type MqttLinkState } from '../../shared/app-health.js';

export const summary = 'machine state, counters, delivery queue and app health (--json for JSON)';

export interface StatusReport {
  deviceId: string;
  mode: string;
  at: number;
  machine: MachineSnapshot;
  delivery: DeliveryStats;
  broker: MqttLinkState | null;
  /** Empty when the supervisor is not reporting. */
  apps: AppHealth[];
}

export async function readStatus(redis: Redis, config: Config, now: number): Promise<StatusReport> {
  const keys = redisKeys(config.redisPrefix, config.deviceId);
  const [machine, delivery, broker, apps] = await Promise.all([
    readMachineSnapshot(redis, keys, localDay(now, config.timezone)),
    readDeliveryStats(redis, keys),
    readMqttLink(redis, keys),
    readAppsHealth(redis, keys),
  ]);
  return { deviceId: config.deviceId, mode: config.mode, at: now, machine, delivery, broker, apps };
}

const clockTime = (ms: number, tz: string) => {
  const p = localParts(ms, tz);
  return `${p.isoDate} ${p.time.slice(0, 2)}:${p.time.slice(2, 4)}:${p.time.slice(4)}`;
};

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

const megabytes = (b: number | null) => (b === null ? '-' : `${(b / 1024 / 1024).toFixed(1)} MB`);

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** The human-readable form: one labelled line per area, then the apps table. */
export function formatStatus(r: StatusReport, tz: string): string {
  const m = r.machine;
  const c = m.counters;
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  const codes = (list: number[], table: ReadonlyMap<number, { description: string }>) =>
    list.length === 0 ? 'none' : list.map((code) => `${code} ${table.get(code)?.description ?? ''}`.trim()).join(', ');
  const lock = m.locked ? `yes${m.lockUntil ? ` until ${clockTime(m.lockUntil, tz)}` : ''}` : 'no';
  const broker = r.broker === null ? 'unknown (the mqtt app has not reported)' : `${r.broker.connected ? 'connected' : 'DISCONNECTED'}${r.broker.since ? ` since ${clockTime(r.broker.since, tz)}` : ''}`;
  const d = r.delivery;
  const lines = [
    `Coinerex ${r.deviceId} (${r.mode})   ${clockTime(r.at, tz)} ${tz}`,
    `machine   ${m.status} ${machineStatusDescription[m.status] ?? ''}   locked: ${lock}   door open: ${yesNo(m.doorOpen)}   inventory: ${m.inventory} coins`,
    `counters  bills ${c.total_bills} NTD   coins ${c.total_coins} NTD   dispensed ${c.total_dispensed}   remote ${c.remote_dispensed}   bonus ${c.bonus_coins}   debt ${c.debt_coins}   balance ${c.balance}`,
    `today     transactions ${m.today.transactions}   exchanges ${m.today.exchanges}   coins dispensed ${m.today.coins_dispensed}   remote ${m.today.remote_dispensed}   errors ${m.today.errors}`,
    `codes     errors: ${codes(m.activeErrors, errorCodes)}   alarms: ${codes(m.activeAlarms, alarmCodes)}`,
    `broker    ${broker}`,
    `delivery  pending ACK ${d.pending}   offline buffer ${d.buffered}   failed ${d.failed}   dropped ${d.dropped}   retransmits ${d.retransmits}   acked ${d.acked}`,
  ];
  if (r.apps.length === 0) lines.push('apps      the supervisor is not reporting (is it running?)');
  else {
    const rows = [['app', 'status', 'pid', 'uptime', 'restarts', 'watchdog', 'memory', 'last beat']];
    for (const a of r.apps) {
      rows.push([
        a.name,
        a.status,
        a.pid === null ? '-' : String(a.pid),
        a.status === 'online' && a.startedAt ? duration(r.at - a.startedAt) : '-',
        String(a.pm2Restarts),
        String(a.watchdogRestarts),
        megabytes(a.memoryBytes),
        a.lastBeatAt === null ? 'never' : `${duration(r.at - a.lastBeatAt)} ago`,
      ]);
    }
    lines.push('apps', ...table(rows).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

export async function run(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    process.stderr.write(`coinerex status: unexpected "${unknown[0]}"\nusage: coinerex status [--json]\n`);
    return 2;
  }
  const config = cliConfig('status');
  if (!config) return EXIT_CONFIG;
  const redis = cliRedis(config.redisUrl);
  try {
    await redis.connect();
    const report = await readStatus(redis, config, Date.now());
    process.stdout.write(`${json ? JSON.stringify(report, null, 2) : formatStatus(report, config.timezone)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`coinerex status: Redis at ${config.redisUrl} unreachable: ${(err as Error).message}\n`);
    return EXIT_UNAVAILABLE;
  } finally {
    redis.disconnect();
  }
}
