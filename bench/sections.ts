/**
 * The benchmark's sections. Each measures one thing on the running agent,
 * prints a line of progress and returns its figures; run.ts strings them
 * together and reports.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { makeQueue, queueNames } from '../queue/index.js';
import { waitFor } from '../test/helpers/env.js';
import type { Agent } from './agent.js';
import { breakdown, hopsOf, HOPS, JobRecorder, type Breakdown } from './breakdown.js';
import { accumulate, costSample, perExchange, type CostPerExchange, type CostSample } from './cost.js';
import { runExchanges, sleep, type Completed } from './exchanges.js';
import { runFlood } from './flood.js';
import { runDurableFloor } from './durable-floor.js';
import { runFloor } from './floor.js';
import { countSdCardWrites } from './sd-card.js';
import { contextSwitchesOf, cpuPercentOver, cpuSecondsOf, memoryOfAll, percentile, type Memory } from './proc-stats.js';
import type { Services } from './services.js';
import type { PrivateBroker } from '../test/helpers/private-services.js';
import type { CloudPeer } from '../test/helpers/cloud-peer.js';

export const log = (line: string) => process.stdout.write(`bench: ${line}\n`);
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);
const load = () => loadavg().map((l) => round(l, 2));
/** Coins an exchange of one 100 NTD bill pays. */
const COINS_PER_EXCHANGE = 10;

export interface LatencyResult {
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  floor_latency_p50_ms: number | null;
  floor_latency_p99_ms: number | null;
  latency_p50_ratio: number | null;
  latency_p99_ratio: number | null;
  durable_floor_latency_p50_ms: number | null;
  durable_floor_latency_p99_ms: number | null;
  /** Agent p99 ÷ durable floor p99. */
  latency_p99_durable_ratio: number | null;
  /** CPU of the whole stack (apps, PM2, Redis) per exchange. */
  cpu_ms_per_exchange: number | null;
  /** CPU of the durable floor's process and Redis per exchange. */
  durable_floor_cpu_ms_per_exchange: number | null;
  cpu_per_exchange_durable_ratio: number | null;
  exchanges: number;
  unfinished: number;
  floor_exchanges: number;
  floor_unacked: number;
  durable_floor_exchanges: number;
  durable_floor_unacked: number;
  cost: CostPerExchange;
  durable_floor_cost: CostPerExchange[];
  loadavg: (number | null)[];
}

/** A peer ACKing for a floor's own device id. */
export interface FloorPeer {
  deviceId: string;
  peer: CloudPeer;
}

/**
 * Agent, mqtt.js floor and durable floor at the same rate, in alternating
 * blocks so all three see the same machine load.
 */
export async function latency(agent: Agent, floor: FloorPeer, durable: FloorPeer, services: Services, rate: number, seconds: number): Promise<LatencyResult> {
  const blocks = 3;
  const agentDone: Completed[] = [];
  const floorMs: number[] = [];
  const durableMs: number[] = [];
  const durableCost: CostPerExchange[] = [];
  let injected = 0;
  let floorSent = 0;
  let floorAcked = 0;
  let durableSent = 0;
  let durableAcked = 0;
  let cost: CostSample | null = null;
  const pids = await agent.processes();
  for (let b = 0; b < blocks; b++) {
    const count = Math.round((rate * seconds) / blocks);
    const f = await runFloor(services.broker.url, floor.deviceId, floor.peer, rate, count);
    floorMs.push(...f.latenciesMs);
    floorSent += count;
    floorAcked += f.acked;
    const d = await runDurableFloor({ redis: agent.redis, redisPid: services.redis.pid ?? 0, redisUrl: services.redis.url, mqttUrl: services.broker.url, deviceId: durable.deviceId, peer: durable.peer, rate, count });
    durableMs.push(...d.latenciesMs);
    durableCost.push(d.cost);
    durableSent += count;
    durableAcked += d.acked;
    await agent.topUp(count * COINS_PER_EXCHANGE + 1000);
    await agent.settle();
    const before = await costSample(agent.redis, pids);
    const r = await runExchanges(agent, { ratePerSecond: rate, seconds: seconds / blocks });
    await agent.settle();
    cost = accumulate(cost, before, await costSample(agent.redis, pids));
    agentDone.push(...r.completed);
    injected += r.injected;
    log(`latency block ${b + 1}/${blocks}: floor p99 ${round(percentile(f.latenciesMs, 99))} ms, durable floor p99 ${round(percentile(d.latenciesMs, 99))} ms, agent p99 ${round(percentile(r.completed.map((c) => c.latencyMs), 99))} ms`);
  }
  const ms = agentDone.map((c) => c.latencyMs);
  const p99 = percentile(ms, 99);
  const floorP99 = percentile(floorMs, 99);
  const durableP99 = percentile(durableMs, 99);
  const agentCost = perExchange(cost!, injected);
  // Blocks are equal in size: the mean of their per-exchange figures is the run's.
  const durableCpu = durableCost.reduce((s, c) => s + c.cpu_ms_total, 0) / durableCost.length;
  return {
    latency_p50_ms: round(percentile(ms, 50)),
    latency_p99_ms: round(p99),
    floor_latency_p50_ms: round(percentile(floorMs, 50)),
    floor_latency_p99_ms: round(floorP99),
    latency_p50_ratio: round(percentile(ms, 50) / percentile(floorMs, 50), 2),
    latency_p99_ratio: round(p99 / floorP99, 2),
    durable_floor_latency_p50_ms: round(percentile(durableMs, 50)),
    durable_floor_latency_p99_ms: round(durableP99),
    latency_p99_durable_ratio: round(p99 / durableP99, 2),
    cpu_ms_per_exchange: agentCost.cpu_ms_total,
    durable_floor_cpu_ms_per_exchange: round(durableCpu),
    cpu_per_exchange_durable_ratio: round(agentCost.cpu_ms_total / durableCpu, 2),
    exchanges: ms.length,
    unfinished: injected - ms.length,
    floor_exchanges: floorMs.length,
    floor_unacked: floorSent * 2 - floorAcked,
    durable_floor_exchanges: durableMs.length,
    durable_floor_unacked: durableSent * 2 - durableAcked,
    cost: agentCost,
    durable_floor_cost: durableCost,
    loadavg: load(),
  };
}

/** Exchanges at `rate` with every job's timestamps recorded: where the time goes. */
export async function traceHops(agent: Agent, rate: number, seconds: number): Promise<Breakdown & { loadavg: (number | null)[] }> {
  const rec = new JobRecorder(agent.redis, agent.keys);
  await agent.topUp(rate * seconds * COINS_PER_EXCHANGE + 1000);
  await agent.settle();
  let polling: Promise<void> | null = null;
  let lastPoll = Date.now();
  const r = await runExchanges(agent, {
    ratePerSecond: rate,
    seconds,
    onTick: () => {
      if (polling || Date.now() - lastPoll < 1000) return;
      lastPoll = Date.now();
      polling = rec.poll().finally(() => (polling = null));
    },
  });
  await polling;
  await rec.poll();
  await rec.close();
  const b = breakdown(rec, r.completed);
  log(`breakdown: ${b.exchanges} of ${r.completed.length} exchanges traced`);
  return { ...b, loadavg: load() };
}

export interface FloodResult {
  flood_p99_ms: number | null;
  /** Exchange p99 under the flood ÷ the p99 of an equal block just before it without the flood. */
  flood_p99_ratio: number | null;
  /** The block without the flood: as many exchanges as the flood window, so the same statistic. */
  control_p99_ms: number | null;
  control_exchanges: number;
  /** Exchange p99 under the flood ÷ the latency section's p99 (more exchanges, so a lower percentile of the tail). */
  flood_p99_latency_ratio: number | null;
  forged_sent: number;
  /** From the first forged command until the agent had answered them all. */
  flood_processed_ms: number | null;
  command_results_received: number;
  /** Dropped unanswered by the mqtt app's inbound rate limit (COINEREX_COMMAND_RATE_LIMIT). */
  rate_limited: number;
  /** Must stay 0: no forged command may pay out. */
  remote_dispensed: number;
  exchanges: number;
  unfinished: number;
  /** Everything the stack spent during the flood (exchanges included), divided by the forged commands. */
  cost_per_forged_command: CostPerExchange;
  /**
   * Cores busy on average from the first forged command until the agent had worked them off: the
   * agent's processes and Redis, and beside them on the same machine the broker, the forging process
   * and the bench (cloud peer, bills). On the board only the agent's share is there.
   */
  cores_busy: { agent: number; broker: number; forger: number; bench: number };
  /** The slowest exchanges of the flood window, hop by hop (HOPS): what decides its p99. */
  slowest: SlowExchange[];
  loadavg: (number | null)[];
}

export interface SlowExchange {
  /** Bill event after the first forged command, ms. */
  offset_ms: number;
  latency_ms: number;
  hops: Record<string, number>;
}

/** Exchanges the flood section takes apart hop by hop. */
const SLOWEST = 3;

/**
 * Exchanges at `rate` for `floodSeconds` without a flood, then while forged commands arrive until the
 * agent has worked off every one of them. The p99 of either block is the 2nd–3rd slowest of a few hundred
 * exchanges: compared with the latency section's p99 (of more exchanges) a short window reads high with
 * no flood at all (docs/performance.md#forged-command-flood-what-decides-its-p99).
 */
export async function flood(agent: Agent, broker: PrivateBroker, rate: number, floodRate: number, floodSeconds: number, idleP99: number): Promise<FloodResult> {
  const commands = makeQueue(queueNames.commands, agent.redis, agent.keys.bullPrefix);
  const outbox = makeQueue(queueNames.outbox, agent.redis, agent.keys.bullPrefix);
  await agent.topUp(rate * (2 * floodSeconds + 60) * COINS_PER_EXCHANGE + 1000);
  await agent.settle();
  const control = (await runExchanges(agent, { ratePerSecond: rate, seconds: floodSeconds })).completed.map((c) => c.latencyMs);
  const controlP99 = percentile(control, 99);
  const resultsBefore = agent.peer.of('command_result').length;
  const rateLimited = async () => Number((await agent.redis.hget(agent.keys.metrics, 'commands_rate_limited_total')) ?? 0);
  const limitedBefore = await rateLimited();
  const pids = await agent.processes();
  const costBefore = await costSample(agent.redis, pids);
  const brokerCpu = () => (broker.pid ? cpuSecondsOf(broker.pid) * 1000 : NaN);
  const [brokerBefore, benchBefore, busyFrom] = [brokerCpu(), process.cpuUsage(), Date.now()];
  let drainedAt = 0;
  let busy: { broker: number; bench: NodeJS.CpuUsage; agent: CostSample } | null = null;
  let failed = false;
  const forged = runFlood(broker.url, agent.deviceId, floodRate, floodSeconds);
  const backlog = (async () => {
    await forged;
    await waitFor(
      async () => {
        const [c, o] = await Promise.all([commands.getJobCounts('waiting', 'active', 'prioritized', 'delayed'), outbox.getJobCounts('waiting', 'active')]);
        return Object.values(c).every((n) => n === 0) && Object.values(o).every((n) => n === 0);
      },
      120_000,
      'forged commands worked off',
      50,
    );
    drainedAt = Date.now();
    busy = { broker: brokerCpu() - brokerBefore, bench: process.cpuUsage(benchBefore), agent: await costSample(agent.redis, pids) };
  })().catch((err: unknown) => {
    failed = true;
    throw err;
  });
  // Read once, after the run: polling while it runs would add its own load to the window. BullMQ
  // keeps the last 200 jobs of a queue, so the slowest are picked from the last ~100 exchanges.
  const rec = new JobRecorder(agent.redis, agent.keys);
  const r = await runExchanges(agent, { ratePerSecond: rate, seconds: 180, stopWhen: () => drainedAt > 0 || failed, graceMs: 120_000 });
  try {
    await backlog;
    await rec.poll();
  } finally {
    await commands.close();
    await outbox.close();
    await rec.close();
  }
  const f = await forged;
  await agent.settle();
  const cost = perExchange(accumulate(null, costBefore, await costSample(agent.redis, pids)), f.sent);
  // The apps write their counters (commands_rate_limited_total) at most once a second (shared/metrics.ts).
  await sleep(1500);
  const inWindow = r.completed.filter((c) => c.eventAt >= f.startedAt && c.eventAt <= drainedAt);
  const during = inWindow.map((c) => c.latencyMs);
  const p99 = percentile(during, 99);
  const cores = (ms: number, window = drainedAt - busyFrom) => round(ms / window, 2)!;
  const cores_busy = {
    agent: cores(perExchange(accumulate(null, costBefore, busy!.agent), 1).cpu_ms_total),
    broker: cores(busy!.broker),
    forger: cores(f.cpuMs, f.endedAt - f.startedAt),
    bench: cores((busy!.bench.user + busy!.bench.system) / 1000),
  };
  const slowest = hopsOf(rec, inWindow)
    .sort((a, b) => b.exchange.latencyMs - a.exchange.latencyMs)
    .slice(0, SLOWEST)
    .map(({ exchange, hops }) => ({ offset_ms: exchange.eventAt - f.startedAt, latency_ms: exchange.latencyMs, hops: Object.fromEntries(HOPS.map(([hop], i) => [hop, hops[i]!])) }));
  const remote = Number((await agent.redis.hget(agent.keys.counters, 'remote_dispensed')) ?? 0);
  log(`flood: ${f.sent} forged commands in ${f.endedAt - f.startedAt} ms, worked off after ${drainedAt - f.startedAt} ms; exchange p99 ${round(p99)} ms (${during.length} exchanges), without the flood just before ${round(controlP99)} ms (${control.length})`);
  log(`flood: ${(await rateLimited()) - limitedBefore} dropped by the inbound rate limit, ${agent.peer.of('command_result').length - resultsBefore} answered`);
  log(`flood: cores busy meanwhile: agent ${cores_busy.agent}, broker ${cores_busy.broker}, forging process ${cores_busy.forger}, bench ${cores_busy.bench}`);
  for (const e of slowest) {
    const worst = Object.entries(e.hops).sort((a, b) => b[1] - a[1]).slice(0, 2);
    log(`flood: ${e.latency_ms} ms exchange at +${e.offset_ms} ms; longest hops ${worst.map(([hop, ms]) => `${ms} ms in "${hop}"`).join(', ')}`);
  }
  return {
    flood_p99_ms: round(p99),
    flood_p99_ratio: round(p99 / controlP99, 2),
    control_p99_ms: round(controlP99),
    control_exchanges: control.length,
    flood_p99_latency_ratio: round(p99 / idleP99, 2),
    forged_sent: f.sent,
    flood_processed_ms: drainedAt - f.startedAt,
    command_results_received: agent.peer.of('command_result').length - resultsBefore,
    rate_limited: (await rateLimited()) - limitedBefore,
    remote_dispensed: remote,
    exchanges: during.length,
    unfinished: r.injected - r.completed.length,
    cost_per_forged_command: cost,
    cores_busy,
    slowest,
    loadavg: load(),
  };
}

export interface ThroughputStep {
  rate: number;
  injected: number;
  completed: number;
  /** Transactions per second at the cloud peer, from the first to the last of the step. */
  achieved: number;
  p99_ms: number | null;
  all_acked: boolean;
  passed: boolean;
}

const RAMP = [10, 25, 50, 100, 150, 200, 300, 400, 600, 1000, 1500];
/** Steps between the last rate kept up with and the first one not, after the ramp. */
const BISECTIONS = 2;

/**
 * One step: `rate` for `seconds`. Kept up with: every exchange done, at ≥ 95 %
 * of the offered rate as seen by the cloud, every message ACKed once (no
 * retransmission); stopped early once a second's worth of exchanges is unfinished.
 */
async function step(agent: Agent, rate: number, seconds: number): Promise<ThroughputStep> {
  await agent.topUp(Math.min(100_000, rate * seconds * COINS_PER_EXCHANGE + 1000));
  await agent.settle();
  const before = await agent.deliveryStats();
  const r = await runExchanges(agent, { ratePerSecond: rate, seconds, maxBacklogSeconds: 1, graceMs: 3_000 });
  await agent.settle();
  const after = await agent.deliveryStats();
  const receipts = r.completed.map((c) => c.receivedAt);
  // Completions per second while the transactions arrived: below the offered rate, a backlog was growing.
  const achieved = receipts.length > 1 ? ((receipts.length - 1) / Math.max(1, Math.max(...receipts) - Math.min(...receipts))) * 1000 : 0;
  const allAcked = after.acked - before.acked >= 2 * r.completed.length && after.retransmits === before.retransmits && after.failed === 0 && after.pending === 0;
  const passed = !r.aborted && r.completed.length === r.injected && achieved >= 0.95 * rate && allAcked;
  const s: ThroughputStep = {
    rate,
    injected: r.injected,
    completed: r.completed.length,
    achieved: round(achieved) ?? 0,
    p99_ms: round(percentile(r.completed.map((c) => c.latencyMs), 99)),
    all_acked: allAcked,
    passed,
  };
  log(`throughput ${rate}/s: ${s.completed}/${s.injected} done, achieved ${s.achieved}/s, p99 ${s.p99_ms} ms, all ACKed ${allAcked} → ${passed ? 'kept up' : 'fell behind'}`);
  return s;
}

/** Raises the rate until the agent no longer keeps up, then narrows the limit down. */
export async function throughput(agent: Agent, stepSeconds: number): Promise<{ max_sustained_exchanges_per_s: number; steps: ThroughputStep[]; loadavg: (number | null)[] }> {
  const steps: ThroughputStep[] = [];
  let best = 0;
  let failed: number | null = null;
  for (const rate of RAMP) {
    const s = await step(agent, rate, stepSeconds);
    steps.push(s);
    if (!s.passed) {
      failed = rate;
      break;
    }
    best = rate;
  }
  for (let i = 0; failed !== null && i < BISECTIONS; i++) {
    const rate = Math.round((best + failed) / 2);
    if (rate === best || rate === failed) break;
    const s = await step(agent, rate, stepSeconds);
    steps.push(s);
    if (s.passed) best = rate;
    else failed = rate;
  }
  return { max_sustained_exchanges_per_s: best, steps, loadavg: load() };
}

export interface DrainResult {
  drain_100_ms: number | null;
  /** From the broker accepting connections again (includes the agent's reconnect back-off). */
  drain_from_broker_return_ms: number | null;
  buffered: number;
  attempts: number;
  loadavg: (number | null)[];
}

/**
 * The broker goes away, exchanges fill the offline buffer to 100 messages,
 * the broker returns: time from the agent's link being up again (its first
 * heartbeat, sent before the buffer) until the cloud has all 100. QoS 0
 * messages sent before the cloud peer has re-subscribed are lost by any
 * broker; such an attempt is recognized (no heartbeat first) and repeated.
 */
export async function drain(agent: Agent, services: Services, offlineLimit = 100): Promise<DrainResult> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    await agent.topUp(offlineLimit * COINS_PER_EXCHANGE + 1000);
    await agent.settle();
    await agent.peer.close();
    await services.broker.stop();
    // Each exchange buffers its transaction; its accounting replaces the previous unsent one.
    for (let i = 0; i < offlineLimit - 1; i++) await agent.insertBill();
    const buffered = await waitFor(
      async () => {
        const [s, unsent] = await Promise.all([agent.deliveryStats(), agent.redis.llen(agent.keys.unsent)]);
        return s.buffered >= offlineLimit && unsent === 0 ? s.buffered : 0;
      },
      60_000,
      `${offlineLimit} messages in the offline buffer`,
      50,
    );
    await services.broker.start();
    const returnedAt = Date.now();
    agent.peer = await agent.newPeer();
    const peer = agent.peer;
    await waitFor(() => peer.received.filter((r) => r.type === 'transaction' || r.type === 'accounting').length >= buffered, 30_000, 'buffer drained').catch(() => undefined);
    const first = peer.received[0];
    const drained = peer.received.filter((r) => r.type === 'transaction' || r.type === 'accounting');
    if (first?.type !== 'heartbeat' || drained.length < buffered) {
      log(`drain attempt ${attempt}: the agent was back before the cloud peer had subscribed; repeating`);
      continue;
    }
    const lastAt = drained[buffered - 1]!.at;
    await agent.settle();
    log(`drain: ${buffered} buffered messages at the cloud ${lastAt - first.at} ms after the link was up (${lastAt - returnedAt} ms after the broker returned)`);
    return { drain_100_ms: lastAt - first.at, drain_from_broker_return_ms: lastAt - returnedAt, buffered, attempts: attempt, loadavg: load() };
  }
  return { drain_100_ms: null, drain_from_broker_return_ms: null, buffered: 0, attempts: 3, loadavg: load() };
}

export interface MemoryResult {
  total_pss_mb: number | null;
  total_rss_mb: number | null;
  processes: Record<string, Memory>;
  /** Redis' own count of its data (`used_memory`), against the shipped `maxmemory`. */
  redis_used_mb: number | null;
}

/** Median of five readings a second apart per process: a single reading lands anywhere in a GC cycle. */
export async function memory(agent: Agent): Promise<MemoryResult> {
  const pids = await agent.processes();
  const readings: Record<string, Memory>[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(1000);
    readings.push(memoryOfAll(pids));
  }
  const median = (name: string, f: keyof Memory) => percentile(readings.map((r) => r[name]![f]), 50);
  const processes: Record<string, Memory> = {};
  for (const name of Object.keys(pids)) processes[name] = { pssMb: round(median(name, 'pssMb'))!, rssMb: round(median(name, 'rssMb'))! };
  const sum = (f: keyof Memory) => Object.values(processes).reduce((s, m) => s + m[f], 0);
  const used = Number(/^used_memory:(\d+)/m.exec(await agent.redis.info('memory'))?.[1] ?? NaN);
  return { total_pss_mb: round(sum('pssMb')), total_rss_mb: round(sum('rssMb')), processes, redis_used_mb: round(used / 2 ** 20) };
}

export interface IdleResult {
  idle_cpu_pct: number | null;
  per_process_pct: Record<string, number | null>;
  /**
   * CPU of one empty timer wake-up in a process of its own over the same window, µs: what the machine
   * charges for waking at all. A shared machine's charge drifts (466 → 641 µs within ten minutes on 2026-12-08),
   * and the agent's idle CPU, made of wake-ups, moves with it.
   */
  reference_us_per_wakeup: number | null;
  loadavg: (number | null)[];
}

/** CPU µs of an empty timer wake-up, 20 a second for `seconds`, in a process of its own that does nothing else. */
async function referenceWakeup(seconds: number): Promise<number> {
  const script = `const t0 = process.cpuUsage(); let n = 0; const i = setInterval(() => n++, 50);
setTimeout(() => { clearInterval(i); const c = process.cpuUsage(t0); process.stdout.write(String((c.user + c.system) / n)); }, ${seconds * 1000});`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: (seconds + 30) * 1000 });
  return Number(stdout);
}

export async function idle(agent: Agent, seconds: number): Promise<IdleResult> {
  await agent.settle();
  // Let the last exchange's aftermath (GC, log flushes) pass.
  await sleep(5_000);
  const pids = await agent.processes();
  const reference = referenceWakeup(seconds);
  const each = await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, round(await cpuPercentOver([pid], seconds * 1000), 2)] as const));
  const per = Object.fromEntries(each);
  const total = each.reduce((s, [, v]) => s + (v ?? 0), 0);
  const referenceUs = round(await reference);
  log(`idle CPU over ${seconds} s: ${round(total, 2)} % of one core (an empty timer wake-up cost ${referenceUs} µs of CPU meanwhile)`);
  return { idle_cpu_pct: round(total, 2), per_process_pct: per, reference_us_per_wakeup: referenceUs, loadavg: load() };
}

export interface SoakResult {
  soak_pss_growth_pct: number | null;
  minutes: number;
  warmup_minutes: number;
  apps: Record<string, { base_pss_mb: number | null; end_pss_mb: number | null; growth_pct: number | null }>;
  latency_p99_ms: number | null;
  exchanges: number;
  /** PSS of every process after each minute, to tell a plateau from a slope. */
  samples: { minute: number; pss_mb: Record<string, number | null> }[];
}

/** A steady run; PSS of each process after the warm-up and at the end, and after every minute. */
export async function soak(agent: Agent, rate: number, minutes: number, apps: readonly string[]): Promise<SoakResult> {
  const warmup = minutes >= 15 ? 5 : minutes / 3;
  const latencies: number[] = [];
  const samples: SoakResult['samples'] = [];
  let ranSeconds = 0;
  const runFor = async (seconds: number) => {
    // In chunks of a minute at most, so the hopper can be refilled in between.
    for (let left = seconds; left > 0.5; left -= 60) {
      const chunk = Math.min(60, left);
      await agent.topUp(rate * chunk * COINS_PER_EXCHANGE + 1000);
      const r = await runExchanges(agent, { ratePerSecond: rate, seconds: chunk });
      latencies.push(...r.completed.map((c) => c.latencyMs));
      ranSeconds += chunk;
      const now = memoryOfAll(await agent.processes());
      samples.push({ minute: round(ranSeconds / 60, 2)!, pss_mb: Object.fromEntries(Object.entries(now).map(([name, m]) => [name, round(m.pssMb)])) });
    }
  };
  await runFor(warmup * 60);
  const base = memoryOfAll(await agent.processes());
  await runFor((minutes - warmup) * 60);
  await agent.settle();
  const end = memoryOfAll(await agent.processes());
  const growth = (name: string) => ((end[name]!.pssMb - base[name]!.pssMb) / base[name]!.pssMb) * 100;
  const out: SoakResult['apps'] = {};
  for (const name of Object.keys(end)) out[name] = { base_pss_mb: round(base[name]!.pssMb), end_pss_mb: round(end[name]!.pssMb), growth_pct: round(growth(name)) };
  const worst = Math.max(...apps.map(growth));
  log(`soak ${minutes} min: worst app PSS growth ${round(worst)} % after the first ${round(warmup, 2)} min`);
  return { soak_pss_growth_pct: round(worst), minutes, warmup_minutes: round(warmup, 2)!, apps: out, latency_p99_ms: round(percentile(latencies, 99)), exchanges: latencies.length, samples };
}

export interface SdCardResult {
  fsyncs_per_idle_hour: number | null;
  aof_bytes_per_idle_hour: number | null;
  fsyncs_per_exchange: number | null;
  aof_bytes_per_exchange: number | null;
  durable_floor_fsyncs_per_exchange: number | null;
  durable_floor_aof_bytes_per_exchange: number | null;
  /** Context switches per idle second, per process (4 apps, PM2 daemon, Redis): how often each wakes at idle. */
  wakeups_per_idle_second: Record<string, number | null>;
  idle_seconds: number;
  exchanges: number;
  loadavg: (number | null)[];
}

const tryOr = <T, F>(fn: () => T, fallback: F): T | F => {
  try {
    return fn();
  } catch {
    return fallback;
  }
};

/**
 * SD-card cost: Redis fsyncs and AOF bytes of the idle agent (scaled to an
 * hour), per agent exchange and per durable-floor exchange. Exchanges run one
 * at a time here, so each one's writes are counted apart from a backlog's.
 */
export async function sdCard(agent: Agent, durable: FloorPeer, services: Services, idleSeconds: number, exchanges: number): Promise<SdCardResult> {
  const redisPid = services.redis.pid ?? 0;
  await agent.topUp(exchanges * COINS_PER_EXCHANGE + 1000);
  await agent.settle();
  await sleep(5_000);
  // Wake-ups first, without strace: a traced process stops at every system call.
  const pids = await agent.processes();
  const wakeSeconds = Math.min(30, idleSeconds);
  const switches = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, tryOr(() => contextSwitchesOf(pid), null)]));
  const switches0 = switches();
  await sleep(wakeSeconds * 1000);
  const switches1 = switches();
  const wakeups = Object.fromEntries(
    Object.keys(pids).map((name) => {
      const a = switches0[name] ?? null;
      const b = switches1[name] ?? null;
      return [name, a === null || b === null ? null : round((b - a) / wakeSeconds, 2)];
    }),
  );
  const idleCount = await countSdCardWrites(agent.redis, redisPid);
  await sleep(idleSeconds * 1000);
  const idleWritten = await idleCount.stop();
  const perHour = (n: number | null) => (n === null ? null : round((n * 3600) / idleSeconds, 0));
  const busyCount = await countSdCardWrites(agent.redis, redisPid);
  for (let i = 0; i < exchanges; i++) {
    const before = agent.peer.of('transaction').length;
    await agent.insertBill();
    await agent.peer.waitFor(() => agent.peer.of('transaction').length > before, 30_000, 'exchange');
  }
  await agent.settle();
  const busy = await busyCount.stop();
  const floor = await runDurableFloor({ redis: agent.redis, redisPid, redisUrl: services.redis.url, mqttUrl: services.broker.url, deviceId: durable.deviceId, peer: durable.peer, rate: 10, count: exchanges, countFsyncs: true });
  const per = (n: number | null) => (n === null ? null : round(n / exchanges));
  const r: SdCardResult = {
    fsyncs_per_idle_hour: perHour(idleWritten.fsyncs),
    aof_bytes_per_idle_hour: perHour(idleWritten.aofBytes),
    fsyncs_per_exchange: per(busy.fsyncs),
    aof_bytes_per_exchange: per(busy.aofBytes),
    durable_floor_fsyncs_per_exchange: per(floor.fsyncs),
    durable_floor_aof_bytes_per_exchange: per(floor.aofBytes),
    wakeups_per_idle_second: wakeups,
    idle_seconds: idleSeconds,
    exchanges,
    loadavg: load(),
  };
  log(`idle wake-ups per second: ${Object.entries(wakeups).map(([n, w]) => `${n} ${w ?? 'n/a'}`).join(', ')}`);
  log(`SD card: idle ${r.fsyncs_per_idle_hour ?? 'n/a'} fsyncs and ${r.aof_bytes_per_idle_hour} AOF bytes per hour; per exchange ${r.fsyncs_per_exchange ?? 'n/a'} fsyncs, ${r.aof_bytes_per_exchange} bytes (durable floor ${r.durable_floor_fsyncs_per_exchange ?? 'n/a'}, ${r.durable_floor_aof_bytes_per_exchange} bytes)`);
  return r;
}
