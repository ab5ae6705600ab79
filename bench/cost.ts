/**
 * What an exchange costs, in figures that hold on a busy machine too: CPU
 * milliseconds per process and Redis work (commands, including those run
 * inside Lua scripts; read events, about one per client round trip, since a
 * pipeline arrives in one read) per exchange. Wall-clock latency on a loaded
 * machine is mostly waiting for a core; these are not.
 */
import type { Redis } from 'ioredis';
import { cpuSecondsOf } from './proc-stats.js';

export interface CostSample {
  cpuSeconds: Record<string, number>;
  redisCommands: number;
  redisReads: number;
}

export interface CostPerExchange {
  exchanges: number;
  cpu_ms: Record<string, number>;
  cpu_ms_total: number;
  /** Commands Redis ran, counting those inside scripts and the benchmark's own job add. */
  redis_commands: number;
  /** Read events of Redis: round trips from clients (pipelines and MULTI count once). */
  redis_round_trips: number;
}

function infoField(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
}

export async function costSample(redis: Redis, pids: Record<string, number>): Promise<CostSample> {
  const [stats, commandstats] = await Promise.all([redis.info('stats'), redis.info('commandstats')]);
  const calls = [...commandstats.matchAll(/calls=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  const cpuSeconds: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      cpuSeconds[name] = cpuSecondsOf(pid);
    } catch {
      cpuSeconds[name] = NaN;
    }
  }
  return { cpuSeconds, redisCommands: calls, redisReads: infoField(stats, 'total_reads_processed') };
}

/** Adds the difference b − a to `into` (several measured blocks make one total). */
export function accumulate(into: CostSample | null, a: CostSample, b: CostSample): CostSample {
  const sum: CostSample = into ?? { cpuSeconds: {}, redisCommands: 0, redisReads: 0 };
  for (const name of Object.keys(b.cpuSeconds)) sum.cpuSeconds[name] = (sum.cpuSeconds[name] ?? 0) + b.cpuSeconds[name]! - (a.cpuSeconds[name] ?? NaN);
  sum.redisCommands += b.redisCommands - a.redisCommands;
  sum.redisReads += b.redisReads - a.redisReads;
  return sum;
}

export function perExchange(total: CostSample, exchanges: number): CostPerExchange {
  const r = (v: number) => Math.round((v / exchanges) * 10) / 10;
  const cpu_ms = Object.fromEntries(Object.entries(total.cpuSeconds).map(([k, v]) => [k, r(v * 1000)]));
  return {
    exchanges,
    cpu_ms,
    cpu_ms_total: r(Object.values(total.cpuSeconds).reduce((s, v) => s + v, 0) * 1000),
    redis_commands: r(total.redisCommands),
    redis_round_trips: r(total.redisReads),
  };
}
