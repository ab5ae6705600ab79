/**
 * Redis traffic of single exchanges, by app and by command and key, from
 * Redis MONITOR (which slows Redis: no timing is taken here). Shows which
 * code issues the round trips that make up most of an exchange's time.
 */
import { Redis } from 'ioredis';
import { queueNames } from '../queue/index.js';
import type { Agent } from './agent.js';
import { sleep } from './exchanges.js';

/** The app that consumes each queue (its BullMQ blocking connection is named after the queue). */
const consumerOf: Record<string, string> = {
  [queueNames.hwEvents]: 'business',
  [queueNames.commands]: 'business',
  [queueNames.businessSchedule]: 'business',
  [queueNames.hwCommands]: 'hardware',
  [queueNames.control]: 'hardware',
  [queueNames.outbox]: 'mqtt',
};

export interface TraceResult {
  exchanges: number;
  /** Per app: commands it sent per exchange, and round trips (a MULTI…EXEC block counted once). */
  apps: Record<string, { commands: number; round_trips: number }>;
  /** Commands run inside Lua scripts (BullMQ's and the agent's own), per exchange. */
  in_scripts: number;
  /** The most frequent commands per exchange: "app command key-pattern". */
  top: { per_exchange: number; what: string }[];
  /**
   * Durable round trips each app waits for between an exchange's bill and
   * the cloud's receipt of its transaction, per exchange: round trips with
   * at least one write (a MULTI block, a script or a write command), where
   * writes a connection pipelined (sent within PIPELINED_US of each other)
   * count once. Exchanges run one at a time, so these follow each other.
   */
  durable_round_trips: Record<string, number>;
  /** Their sum over the apps. */
  sequential_durable_round_trips: number;
}

/** Commands that never write: a round trip made only of them costs no fsync. */
const READ_ONLY = new Set([
  'get', 'mget', 'hget', 'hmget', 'hgetall', 'hexists', 'hlen', 'hkeys', 'hvals', 'hscan', 'llen', 'lrange', 'lindex', 'lpos',
  'scard', 'smembers', 'sismember', 'smismember', 'sscan', 'zcard', 'zscore', 'zrange', 'zrangebyscore', 'zrevrange', 'zrevrangebyscore',
  'zcount', 'zrank', 'zscan', 'exists', 'ttl', 'pttl', 'type', 'scan', 'keys', 'strlen', 'info', 'client', 'ping', 'time', 'dbsize',
  'script', 'config', 'xlen', 'xrange', 'xrevrange', 'xread', 'select', 'hello', 'auth', 'multi', 'exec', 'discard', 'watch', 'unwatch',
]);
/** Writes of one connection closer than this are one pipeline. */
const PIPELINED_US = 200;

function appOf(name: string, deviceId: string): string {
  if (name === 'lua') return 'lua';
  const bull = /:bull:([A-Za-z0-9+/=]+)$/.exec(name);
  if (bull) return consumerOf[Buffer.from(bull[1]!, 'base64').toString()] ?? 'bullmq';
  // An app's runner connection, once it beat, is named after its beat (shared/app-health.ts).
  const beating = /:live:([^:]+):\d+$/.exec(name);
  if (beating) return beating[1]!;
  const [, app] = name.startsWith(`${deviceId}:`) ? name.split(':') : [];
  return app ?? 'bench';
}

/** Makes ids, uuids and numbers in a key generic, so one line stands for one code path. */
function keyPattern(args: unknown[]): string {
  const cmd = String(args[0]).toLowerCase();
  if (cmd === 'evalsha' || cmd === 'eval') return `${cmd} ${String(args[3] ?? '').replace(/^.*:bull:/, 'bull:')}`;
  const key = String(args[1] ?? '')
    .replace(/^[^:]+:[^:]+:/, '')
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
    .replace(/\d{6,}/g, '<n>')
    .replace(/(TXN|REMOTE)_\S+/g, '<txn>');
  return `${cmd} ${key}`.trim();
}

export async function redisTrace(agent: Agent, redisUrl: string, exchanges: number): Promise<TraceResult> {
  const control = new Redis(redisUrl, { protocol: 2 });
  const monitor = await control.monitor();
  const seen: { args: unknown[]; source: string; us: number }[] = [];
  monitor.on('monitor', (time: string, args: unknown[], source: string) => seen.push({ args, source, us: Math.round(Number(time) * 1e6) }));
  // One exchange at a time: the trace shows the work of each, not a backlog.
  const windows: [number, number][] = [];
  for (let i = 0; i < exchanges; i++) {
    const before = agent.peer.of('transaction').length;
    const start = Date.now() * 1000;
    await agent.insertBill();
    const txn = (await agent.peer.waitCount('transaction', before + 1, 30_000))[before]!;
    windows.push([start, txn.at * 1000]);
    await sleep(100);
  }
  await agent.settle();
  monitor.disconnect();
  const names = new Map<string, string>();
  for (const line of String(await control.client('LIST')).split('\n')) {
    const addr = /addr=(\S+)/.exec(line)?.[1];
    if (addr) names.set(addr, /name=(\S*)/.exec(line)?.[1] || 'bench');
  }
  control.disconnect();
  const apps: TraceResult['apps'] = {};
  const top = new Map<string, number>();
  const inMulti = new Set<string>();
  const durable: Record<string, number> = {};
  const lastWriteUs = new Map<string, number>();
  const inWindow = (us: number) => windows.some(([a, b]) => us >= a && us <= b);
  let inScripts = 0;
  for (const { args, source, us } of seen) {
    const app = appOf(source === 'lua' ? 'lua' : (names.get(source) ?? 'bench'), agent.deviceId);
    if (app === 'lua') {
      inScripts++;
      continue;
    }
    const cmd = String(args[0]).toLowerCase();
    if (app !== 'bench' && !READ_ONLY.has(cmd) && inWindow(us)) {
      const last = lastWriteUs.get(source);
      if (last === undefined || us - last > PIPELINED_US) durable[app] = (durable[app] ?? 0) + 1;
      lastWriteUs.set(source, us);
    }
    const a = (apps[app] ??= { commands: 0, round_trips: 0 });
    a.commands++;
    // A MULTI…EXEC block is sent as one pipeline: one round trip.
    if (cmd === 'multi') {
      inMulti.add(source);
      a.round_trips++;
    } else if (inMulti.has(source)) {
      if (cmd === 'exec' || cmd === 'discard') inMulti.delete(source);
    } else {
      a.round_trips++;
    }
    const what = `${app} ${keyPattern(args)}`;
    top.set(what, (top.get(what) ?? 0) + 1);
  }
  const per = (n: number) => Math.round((n / exchanges) * 10) / 10;
  for (const a of Object.values(apps)) {
    a.commands = per(a.commands);
    a.round_trips = per(a.round_trips);
  }
  const durableRoundTrips = Object.fromEntries(Object.entries(durable).map(([app, n]) => [app, per(n)]));
  return {
    exchanges,
    apps,
    durable_round_trips: durableRoundTrips,
    sequential_durable_round_trips: per(Object.values(durable).reduce((a, b) => a + b, 0)),
    in_scripts: per(inScripts),
    top: [...top].sort((x, y) => y[1] - x[1]).slice(0, 40).map(([what, n]) => ({ per_exchange: per(n), what })),
  };
}
