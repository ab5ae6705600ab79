/**
 * The heartbeat's `system_health` (docs/protocol.md#heartbeat) read from the OS:
 * CPU from /proc/stat deltas between two readings, memory from
 * /proc/meminfo (MemAvailable), storage from statfs of the data directory,
 * temperature from the first thermal zone (null when the board has none).
 * A reading that fails is reported as 0 (temperature as null) rather than
 * stopping the heartbeat.
 */
import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface SystemHealth {
  /** Percent, since the previous reading (since boot on the first). */
  cpu_usage: number;
  /** Percent of MemTotal not available to new processes. */
  memory_usage: number;
  /** Percent of the data directory's file system in use. */
  storage_usage: number;
  /** °C, or null when the board reports none. */
  temperature: number | null;
}

export interface SystemHealthOptions {
  /** Directory whose file system is reported (where Redis keeps its AOF). */
  dataDir: string;
  /** Injectable for tests. Default /proc. */
  procDir?: string;
  /** Default /sys/class/thermal/thermal_zone0/temp. */
  thermalFile?: string;
}

/** About half a second of one core at USER_HZ 100. */
const MIN_CPU_WINDOW_JIFFIES = 50;

const round1 = (x: number): number => Math.round(x * 10) / 10;
const pct = (x: number): number => (Number.isFinite(x) ? Math.min(100, Math.max(0, round1(x))) : 0);

/** busy/total jiffies of the first `cpu` line. */
export function parseCpuLine(stat: string): { busy: number; total: number } | null {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice).
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return null;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

export function parseMemoryUsage(meminfo: string): number {
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1]);
  const total = field('MemTotal');
  const available = field('MemAvailable');
  return total > 0 && Number.isFinite(available) ? pct((1 - available / total) * 100) : 0;
}

export function systemHealthReader(o: SystemHealthOptions): () => Promise<SystemHealth> {
  const proc = o.procDir ?? '/proc';
  const thermal = o.thermalFile ?? '/sys/class/thermal/thermal_zone0/temp';
  let last: { busy: number; total: number } = { busy: 0, total: 0 };
  let lastUsage = 0;

  const cpu = async (): Promise<number> => {
    const now = parseCpuLine(await readFile(join(proc, 'stat'), 'utf8'));
    if (!now) return 0;
    const dTotal = now.total - last.total;
    // A window of a few jiffies (two heartbeats in a row) is noise: report the previous value.
    if (dTotal < MIN_CPU_WINDOW_JIFFIES) return lastUsage;
    lastUsage = pct(((now.busy - last.busy) / dTotal) * 100);
    last = now;
    return lastUsage;
  };
  const memory = async (): Promise<number> => parseMemoryUsage(await readFile(join(proc, 'meminfo'), 'utf8'));
  const storage = async (): Promise<number> => {
    const s = await statfs(o.dataDir);
    const used = s.blocks - s.bfree;
    return used + s.bavail > 0 ? pct((used / (used + s.bavail)) * 100) : 0;
  };
  const temperature = async (): Promise<number | null> => {
    const milli = Number((await readFile(thermal, 'utf8')).trim());
    return Number.isFinite(milli) ? round1(milli / 1000) : null;
  };

  return async () => {
    const [c, m, s, t] = await Promise.allSettled([cpu(), memory(), storage(), temperature()]);
    const val = <T>(r: PromiseSettledResult<T>, fallback: T): T => (r.status === 'fulfilled' ? r.value : fallback);
    return { cpu_usage: val(c, 0), memory_usage: val(m, 0), storage_usage: val(s, 0), temperature: val(t, null) };
  };
}
