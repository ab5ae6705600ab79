/**
 * `npm run bench`: the agent (production profile under PM2) against the
 * physical floor, on a private broker and Redis. Prints a table and writes
 * bench-results.json (docs/performance.md explains each figure).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { cloudPeer, type CloudPeer } from '../test/helpers/cloud-peer.js';
import { ROOT } from '../test/helpers/pm2.js';
import { AGENT_APPS, startBenchAgent, type Agent } from './agent.js';
import { UsageError } from '../shared/errors.js';
import { parseOptions, usage, type BenchOptions } from './options.js';
import { hopTable, table, TARGETS, verdict } from './report.js';
import { drain, flood, idle, latency, log, memory, sdCard, soak, throughput, traceHops } from './sections.js';
import { startServices, type Services } from './services.js';
import { redisTrace } from './trace.js';

async function bench(o: BenchOptions): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_mb: Math.round(totalmem() / 2 ** 20), node: process.version },
    loadavg_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
    options: { ...o, only: [...o.only] },
  };
  for (const t of TARGETS) results[t.key] = null;
  for (const key of ['floor_latency_p99_ms', 'durable_floor_latency_p99_ms', 'durable_floor_cpu_ms_per_exchange', 'durable_floor_fsyncs_per_exchange', 'durable_floor_aof_bytes_per_exchange']) results[key] = null;
  let services: Services | undefined;
  let agent: Agent | undefined;
  let durablePeer: CloudPeer | undefined;
  const floorDevice = `FLOOR_${process.pid}`;
  const durableDevice = `DFLOOR_${process.pid}`;
  const cleanup = async () => {
    await durablePeer?.close().catch(() => undefined);
    await agent?.close().catch(() => undefined);
    await services?.close().catch(() => undefined);
  };
  // Ctrl-C must not leave a PM2 daemon, Redis and Mosquitto behind.
  process.once('SIGINT', () => {
    log('interrupted; stopping the agent and the private services');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    services = await startServices({ appendfsync: o.appendfsync });
    log(`private broker ${services.broker.url}, Redis ${services.redis.url}`);
    agent = await startBenchAgent(services, o.env);
    results.start_to_heartbeat_ms = agent.startToHeartbeatMs;
    results.start = { launched_after_ms: agent.launchedAfterMs };
    log(`pm2 start → first heartbeat: ${agent.startToHeartbeatMs} ms (apps launched after ${JSON.stringify(agent.launchedAfterMs)} ms)`);
    results.memory_after_start = await memory(agent);
    const floorPeer = await cloudPeer(floorDevice, { url: services.broker.url });
    durablePeer = await cloudPeer(durableDevice, { url: services.broker.url });
    let idleP99 = NaN;
    if (o.only.has('latency')) {
      const l = await latency(agent, { deviceId: floorDevice, peer: floorPeer }, { deviceId: durableDevice, peer: durablePeer }, services, o.rate, o.latencySeconds);
      Object.assign(results, l);
      results.latency = l;
      idleP99 = l.latency_p99_ms ?? NaN;
    }
    await floorPeer.close();
    if (o.only.has('breakdown')) {
      const b = await traceHops(agent, o.breakdownRate, o.breakdownSeconds);
      results.breakdown = b;
      process.stdout.write(`\n${hopTable([...b.hops, b.total])}\n\n`);
    }
    if (o.only.has('trace')) {
      const t = await redisTrace(agent, services.redis.url, o.traceExchanges);
      results.trace = t;
      results.sequential_durable_round_trips = t.sequential_durable_round_trips;
      log(`trace: durable round trips in sequence per exchange ${t.sequential_durable_round_trips} (${Object.entries(t.durable_round_trips).map(([a, n]) => `${a} ${n}`).join(', ')})`);
      log(`trace: per exchange ${Object.entries(t.apps).map(([a, v]) => `${a} ${v.round_trips} round trips (${v.commands} commands)`).join(', ')}; ${t.in_scripts} commands inside scripts`);
    }
    if (o.only.has('flood')) {
      const f = await flood(agent, services.broker, o.rate, o.floodRate, o.floodSeconds, idleP99);
      results.flood = f;
      results.flood_p99_ms = f.flood_p99_ms;
      results.flood_p99_ratio = f.flood_p99_ratio;
      results.flood_p99_latency_ratio = f.flood_p99_latency_ratio;
    }
    if (o.only.has('throughput')) {
      const t = await throughput(agent, o.stepSeconds);
      results.throughput = t;
      results.max_sustained_exchanges_per_s = t.max_sustained_exchanges_per_s;
    }
    if (o.only.has('drain')) {
      const d = await drain(agent, services);
      results.drain = d;
      results.drain_100_ms = d.drain_100_ms;
    }
    if (o.only.has('memory')) {
      const m = await memory(agent);
      results.memory = m;
      results.total_pss_mb = m.total_pss_mb;
      log(`memory: total PSS ${m.total_pss_mb} MB, RSS ${m.total_rss_mb} MB`);
    }
    if (o.only.has('idle')) {
      const i = await idle(agent, o.idleSeconds);
      results.idle = i;
      results.idle_cpu_pct = i.idle_cpu_pct;
    }
    if (o.only.has('sdcard')) {
      const sd = await sdCard(agent, { deviceId: durableDevice, peer: durablePeer }, services, o.sdcardIdleSeconds, o.sdcardExchanges);
      results.sdcard = sd;
      for (const key of ['fsyncs_per_idle_hour', 'fsyncs_per_exchange', 'aof_bytes_per_exchange', 'durable_floor_fsyncs_per_exchange', 'durable_floor_aof_bytes_per_exchange'] as const) results[key] = sd[key];
    }
    if (o.only.has('soak')) {
      const s = await soak(agent, o.soakRate, o.soakMinutes, AGENT_APPS);
      results.soak = s;
      results.soak_pss_growth_pct = s.soak_pss_growth_pct;
    }
    results.restarts = Object.fromEntries((await agent.stack.list()).map((p) => [p.name, p.restarts]));
  } finally {
    await cleanup();
  }
  results.loadavg_at_end = loadavg().map((l) => Math.round(l * 100) / 100);
  results.verdicts = Object.fromEntries(TARGETS.map((t) => [t.key, verdict(t, results[t.key])]));
  return results;
}

const defaultOut = join(ROOT, 'bench-results.json');
if (process.argv.includes('--help')) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2), defaultOut);
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`bench: ${err.message}\n${usage}\n`);
  process.exit(2);
}
const results = await bench(options);
writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`\n${table(results)}\n\nload average ${JSON.stringify(results.loadavg_at_start)} → ${JSON.stringify(results.loadavg_at_end)} (1, 5, 15 min)\nwritten to ${options.out}\n`);
