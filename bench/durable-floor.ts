/**
 * The durable floor: the least durable work an exchange needs, run as its
 * own process (durable-floor-process.ts) on the agent's private Redis and
 * broker and ACKed by a cloud peer, so that each agent figure can be shown
 * beside it and as a ratio to it: latency, CPU per exchange (the process and
 * Redis), Redis commands, round trips, fsyncs and AOF bytes per exchange.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { CloudPeer } from '../test/helpers/cloud-peer.js';
import { ROOT } from '../test/helpers/pm2.js';
import { accumulate, costSample, perExchange, type CostPerExchange } from './cost.js';
import { countSdCardWrites } from './sd-card.js';

export interface DurableFloorRun {
  latenciesMs: number[];
  acked: number;
  /** CPU of the floor process and of Redis, Redis work: per exchange. */
  cost: CostPerExchange;
  fsyncs: number | null;
  aofBytes: number;
}

export interface DurableFloorOptions {
  redis: Redis;
  redisPid: number;
  redisUrl: string;
  mqttUrl: string;
  deviceId: string;
  peer: CloudPeer;
  rate: number;
  count: number;
  /** Count fsyncs with strace (slows Redis: not for latency runs). */
  countFsyncs?: boolean;
}

const SCRIPT = join(ROOT, 'dist', 'bench', 'durable-floor-process.js');

export async function runDurableFloor(o: DurableFloorOptions): Promise<DurableFloorRun> {
  const args = { redisUrl: o.redisUrl, mqttUrl: o.mqttUrl, deviceId: o.deviceId, rate: o.rate, count: o.count };
  const child = spawn(process.execPath, [SCRIPT, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error(`durable floor exited early (code ${await exited})`);
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  await next();
  const started = o.peer.received.length;
  const before = await costSample(o.redis, { redis: o.redisPid });
  const sd = o.countFsyncs ? await countSdCardWrites(o.redis, o.redisPid) : null;
  child.stdin.end('go\n');
  const done = await next();
  const written = await sd?.stop();
  const total = accumulate(null, before, await costSample(o.redis, { redis: o.redisPid }));
  total.cpuSeconds.floor = Number(done.cpu_ms) / 1000;
  await exited;
  const latenciesMs = o.peer.received
    .slice(started)
    .filter((r) => r.type === 'transaction')
    .map((r) => r.at - Date.parse(r.payload.data.timing.start_time));
  return {
    latenciesMs,
    acked: Number(done.acked),
    cost: perExchange(total, o.count),
    fsyncs: written?.fsyncs ?? null,
    aofBytes: written?.aofBytes ?? NaN,
  };
}
