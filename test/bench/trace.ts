/**
 * Redis traffic of single exchanges, by app and by command and key, from
 * Redis MONITOR (which slows Redis: no timing is taken here). Shows which
 * code issues the round trips that make up most of an exchange's time.
 */
import { Redis } from 'ioredis';
import { queueNames } from '../../queue/index.js';
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
}

function appOf(name: string, deviceId: string): string {
  if (name === 'lua') return 'lua';
  const bull = /:bull:([A-Za-z0-9+/=]+)$/.exec(name);
  if (bull) return consumerOf[Buffer.from(bull[1]!, 'base64').toString()] ?? 'bullmq';
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
  const seen: { args: unknown[]; source: string }[] = [];
  monitor.on('monitor', (_time: string, args: unknown[], source: string) => seen.push({ args, source }));
  // One exchange at a time: the trace shows the work of each, not a backlog.
  for (let i = 0; i < exchanges; i++) {
    const before = agent.peer.of('transaction').length;
    await agent.insertBill();
    await agent.peer.waitFor((r) => r.type === 'transaction' && agent.peer.of('transaction').length > before, 30_000, 'traced exchange');
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
  let inScripts = 0;
  for (const { args, source } of seen) {
    const app = appOf(source === 'lua' ? 'lua' : (names.get(source) ?? 'bench'), agent.deviceId);
    if (app === 'lua') {
      inScripts++;
      continue;
    }
    const cmd = String(args[0]).toLowerCase();
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
  return {
    exchanges,
    apps,
    in_scripts: per(inScripts),
    top: [...top].sort((x, y) => y[1] - x[1]).slice(0, 40).map(([what, n]) => ({ per_exchange: per(n), what })),
  };
}
