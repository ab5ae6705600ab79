/** Command-line options of `npm run bench -- …`. */
import { UsageError } from '../shared/errors.js';

export const SECTIONS = ['latency', 'breakdown', 'trace', 'flood', 'throughput', 'drain', 'memory', 'idle', 'sdcard', 'soak'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  only: Set<Section>;
  /** Exchanges per second for the latency, breakdown, flood and soak sections. */
  rate: number;
  /** Seconds of agent exchanges at `rate` (the floor gets as many), in three alternating blocks. */
  latencySeconds: number;
  breakdownSeconds: number;
  /** Exchanges per second while tracing hops; below the agent's capacity the hops show service time, not queueing. */
  breakdownRate: number;
  floodRate: number;
  floodSeconds: number;
  /** Seconds per rate step of the throughput ramp. */
  stepSeconds: number;
  idleSeconds: number;
  soakMinutes: number;
  /** Exchanges per second during the soak. */
  soakRate: number;
  traceExchanges: number;
  /** Seconds of idle agent over which the sdcard section counts fsyncs (scaled to an hour). */
  sdcardIdleSeconds: number;
  /** Exchanges (agent, then durable floor) over which the sdcard section counts fsyncs. */
  sdcardExchanges: number;
  /**
   * Extra environment of `pm2 start` (so of the PM2 daemon and the apps):
   * try tuning such as NODE_OPTIONS or PM2_CONCURRENT_ACTIONS without editing ecosystem.config.js.
   */
  env: Record<string, string>;
  /** Redis `appendfsync` instead of the shipped `always`. */
  appendfsync?: 'always' | 'everysec' | 'no';
  out: string;
}

export const usage = `usage: npm run bench -- [options]
  --only <list>            sections, comma-separated: ${SECTIONS.join(',')}
                           (default: all; start → first heartbeat is always measured)
  --trace-exchanges <n>    exchanges traced with Redis MONITOR by the trace section (default 20)
  --sdcard-idle-seconds <n>  idle window in which the sdcard section counts fsyncs (default 120)
  --sdcard-exchanges <n>   exchanges over which the sdcard section counts fsyncs (default 50)
  --rate <n>               exchanges/s for latency, breakdown, flood, soak (default 10)
  --latency-seconds <n>    agent exchanges at --rate, alternating with the floor (default 30)
  --breakdown-seconds <n>  seconds of exchanges traced hop by hop (default 10)
  --breakdown-rate <n>     exchanges/s while tracing hops (default 10)
  --flood-rate <n>         forged commands/s (default 1000)
  --flood-seconds <n>      flood duration, and of the block without it before (default 20)
  --step-seconds <n>       seconds per step of the throughput ramp (default 5)
  --idle-seconds <n>       idle CPU window (default 60)
  --soak-minutes <n>       steady run for PSS growth; after the first 5 min, or the first third when shorter than 15 min (default 1)
  --soak-rate <n>          exchanges/s during the soak (default 10)
  --env NAME=value         extra environment of pm2 start, repeatable, e.g.
                           --env NODE_OPTIONS=--max-semi-space-size=1 --env PM2_CONCURRENT_ACTIONS=4
  --appendfsync <mode>     Redis appendfsync instead of the shipped "always" (always|everysec|no)
  --out <file>             results file (default bench-results.json at the repository root)`;

export function parseOptions(args: readonly string[], defaultOut: string): BenchOptions {
  const o: BenchOptions = {
    only: new Set(SECTIONS),
    rate: 10,
    latencySeconds: 30,
    breakdownSeconds: 10,
    breakdownRate: 10,
    floodRate: 1000,
    floodSeconds: 20,
    stepSeconds: 5,
    idleSeconds: 60,
    soakMinutes: 1,
    soakRate: 10,
    traceExchanges: 20,
    sdcardIdleSeconds: 120,
    sdcardExchanges: 50,
    env: {},
    out: defaultOut,
  };
  const numeric: Record<string, keyof BenchOptions> = {
    '--rate': 'rate',
    '--latency-seconds': 'latencySeconds',
    '--breakdown-seconds': 'breakdownSeconds',
    '--breakdown-rate': 'breakdownRate',
    '--flood-rate': 'floodRate',
    '--flood-seconds': 'floodSeconds',
    '--step-seconds': 'stepSeconds',
    '--idle-seconds': 'idleSeconds',
    '--soak-minutes': 'soakMinutes',
    '--soak-rate': 'soakRate',
    '--trace-exchanges': 'traceExchanges',
    '--sdcard-idle-seconds': 'sdcardIdleSeconds',
    '--sdcard-exchanges': 'sdcardExchanges',
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`missing value for ${flag}`);
    if (flag === '--only') {
      const names = value.split(',').filter(Boolean);
      const bad = names.find((n) => !(SECTIONS as readonly string[]).includes(n));
      if (bad) throw new UsageError(`unknown section "${bad}"`);
      o.only = new Set(names as Section[]);
    } else if (flag === '--out') {
      o.out = value;
    } else if (flag === '--appendfsync') {
      if (!['always', 'everysec', 'no'].includes(value)) throw new UsageError(`bad --appendfsync "${value}": expected always, everysec or no`);
      o.appendfsync = value as BenchOptions['appendfsync'];
    } else if (flag === '--env') {
      const eq = value.indexOf('=');
      if (eq < 1) throw new UsageError(`bad --env "${value}": expected NAME=value`);
      o.env[value.slice(0, eq)] = value.slice(eq + 1);
    } else if (flag in numeric) {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`bad ${flag} "${value}": expected a positive number`);
      (o[numeric[flag]!] as number) = n;
    } else {
      throw new UsageError(`unknown option ${flag}`);
    }
  }
  return o;
}
