/**
 * Memory and CPU of processes, read from /proc. PSS (proportional set size,
 * /proc/<pid>/smaps_rollup) splits shared pages among the processes sharing
 * them, so PSS adds up; RSS double-counts shared pages.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Memory {
  pssMb: number;
  rssMb: number;
}

export function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { pssMb: kb('Pss') / 1024, rssMb: kb('Rss') / 1024 };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) of a process and its threads, in seconds. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may contain spaces, start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * Context switches of a process and its threads (voluntary: it slept and was
 * woken; involuntary: preempted): how often it wakes, a count that the load
 * of the machine does not change for a process that only waits.
 */
export function contextSwitchesOf(pid: number): number {
  let sum = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    sum += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return sum;
}

/** Percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Memory of each named process; a process that is gone reads as zero. */
export function memoryOfAll(pids: Record<string, number>): Record<string, Memory> {
  const out: Record<string, Memory> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      out[name] = memoryOf(pid);
    } catch {
      out[name] = { pssMb: 0, rssMb: 0 };
    }
  }
  return out;
}

/** CPU used by `pids` together over `ms`, in percent of one core. */
export async function cpuPercentOver(pids: number[], ms: number): Promise<number> {
  const total = () => pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  const before = total();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const after = total();
  return ((after - before) / ((performance.now() - t0) / 1000)) * 100;
}
