/**
 * The supervisor's loop, one tick at start and then on every wall-clock multiple of `pollMs`:
 *  1. read every app's liveness beat, and PM2's process list when needed;
 *  2. restart (through PM2) an app that stopped beating, count it;
 *  3. write each app's health (uptime, restarts, memory) for status,
 *     heartbeat diagnostics and the dashboard, when it changed or is due
 *     for renewal (each write is an fsync of the SD card);
 *  4. carry out one pending restart request (soft: PM2, hard: reboot).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { onWallClockGrid, type Clock } from '../shared/clock.js';
import { closeInOrder } from '../shared/close.js';
import type { RedisKeys } from '../shared/keys.js';
import type { Metrics } from '../shared/metrics.js';
import { ecosystemApps, healthChanged, readLiveness, writeAppsHealth, type AppHealth } from '../shared/app-health.js';
import type { ManagedProcess, ProcessControl } from './process-control.js';
import { baselineTracker, findHungApps } from './watchdog.js';
import { takeRestartRequest, type RestartExecutor } from './restart-requests.js';

export interface SupervisorOptions {
  redis: Redis;
  keys: RedisKeys;
  control: ProcessControl;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** Monotonic ms (performance.now) to tell a wall-clock jump from elapsed time. */
  monotonic: () => number;
  /** An app silent for longer is restarted (COINEREX_WATCHDOG_SECONDS). */
  watchdogMs: number;
  /** Tick period, ms. */
  pollMs: number;
  /** Apps the watchdog may restart. Default: every ecosystem app but the supervisor. */
  watched?: readonly string[];
  restarts: RestartExecutor;
}

export const restartReason = { watchdog: 'watchdog', soft: 'soft_restart' } as const;

export interface Supervisor {
  /** One pass; exposed for tests. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export function startSupervisor(o: SupervisorOptions): Supervisor {
  const watched = o.watched ?? ecosystemApps.filter((a) => a !== 'supervisor');
  const busy = new Set<string>();
  const baseline = baselineTracker({ wall: o.clock.now(), mono: o.monotonic() }, Math.max(5_000, o.pollMs * 2));
  // An unchanged record is renewed every 8 ticks (40 s in production) and outlives three renewals.
  const healthRenewMs = o.pollMs * 8;
  const healthTtlMs = Math.max(15_000, healthRenewMs * 3);
  let written: { records: AppHealth[]; at: number } | null = null;
  let closed = false;
  let current: Promise<void> = Promise.resolve();

  const restartHung = (name: string, silentMs: number, lastBeatAt: number | null) => {
    busy.add(name);
    o.log.warn({ app: name, silentMs, lastBeatAt }, 'app stopped beating; restarting it');
    o.metrics.incr('app_restarts_total', { app: name, reason: restartReason.watchdog });
    o.redis.hincrby(o.keys.appRestarts, name, 1).catch((err: Error) => o.log.warn({ err: err.message }, 'cannot count restart'));
    o.control
      .restart(name)
      .then(() => o.log.info({ app: name }, 'app restarted by the watchdog'))
      .catch((err: Error) => o.log.error({ app: name, err: err.message }, 'watchdog restart failed'))
      .finally(() => busy.delete(name));
  };

  const health = async (procs: ManagedProcess[], beats: ReadonlyMap<string, number | null>, now: number): Promise<void> => {
    const counts = await o.redis.hgetall(o.keys.appRestarts);
    const records: AppHealth[] = procs
      .filter((p) => (ecosystemApps as readonly string[]).includes(p.name))
      .map((p) => ({
        name: p.name,
        status: p.status,
        pid: p.pid,
        startedAt: p.startedAt,
        pm2Restarts: p.restarts,
        watchdogRestarts: Number(counts[p.name] ?? 0),
        memoryBytes: p.memoryBytes,
        cpuPercent: p.cpuPercent,
        lastBeatAt: beats.get(p.name) ?? null,
        updatedAt: now,
      }));
    if (written && now - written.at < healthRenewMs && !healthChanged(written.records, records)) return;
    await writeAppsHealth(o.redis, o.keys, records, healthTtlMs);
    written = { records, at: now };
  };

  // PM2's list makes its daemon read every process's /proc files: asked for only while the last list
  // is unsettled (an app not online, or beating without being listed), when an app it listed online
  // is late with its beat, when the health record is due, or for a restart request.
  let listed: { procs: ManagedProcess[]; at: number } | null = null;
  const unsettled = (beats: ReadonlyMap<string, number | null>) =>
    listed!.procs.some((p) => p.status !== 'online') || [...beats].some(([name, at]) => at !== null && !listed!.procs.some((p) => p.name === name));
  const lateBeat = (beats: ReadonlyMap<string, number | null>, now: number) =>
    listed!.procs.some((p) => watched.includes(p.name) && p.status === 'online' && now - (beats.get(p.name) ?? 0) > o.watchdogMs / 2);
  const list = async (now: number): Promise<ManagedProcess[]> => {
    listed = { procs: await o.control.list(), at: now };
    return listed.procs;
  };

  const tick = async (): Promise<void> => {
    let procs: ManagedProcess[];
    let beats: Map<string, number | null>;
    try {
      beats = await readLiveness(o.redis, o.keys, ecosystemApps);
      const now = o.clock.now();
      procs = listed === null || now - listed.at >= healthRenewMs || unsettled(beats) || lateBeat(beats, now) ? await list(now) : listed.procs;
    } catch (err) {
      baseline.failed();
      o.log.warn({ err: (err as Error).message }, 'cannot read PM2 or Redis; watchdog paused');
      return;
    }
    const now = o.clock.now();
    const since = baseline.ok({ wall: now, mono: o.monotonic() });
    for (const h of findHungApps({ now, baseline: since, watchdogMs: o.watchdogMs, processes: procs, beats, watched, busy })) {
      restartHung(h.name, h.silentMs, h.lastBeatAt);
    }
    await health(procs, beats, now).catch((err: Error) => o.log.warn({ err: err.message }, 'cannot write apps health'));
    const request = await takeRestartRequest(o.redis, o.keys, now, o.log).catch((err: Error) => {
      o.log.warn({ err: err.message }, 'cannot read restart requests');
      return null;
    });
    if (request) await o.restarts.execute(request, await list(now).catch(() => procs), busy);
  };

  // One tick at a time: a grid tick that comes while the start's tick still runs waits for it.
  const loop = () => {
    if (closed) return current;
    current = current.then(tick).catch((err: Error) => o.log.error({ err }, 'supervisor tick failed'));
    return current;
  };
  // At once, then on the wall-clock grid, where the liveness beat of this app falls too: one wake-up for both.
  void loop();
  const stopLoop = onWallClockGrid(o.pollMs, loop);

  return {
    tick: () => (current = current.then(tick)),
    // Not awaiting `current`: a soft restart ends with PM2 restarting this very process.
    close: closeInOrder(
      [
        {
          name: 'watch loop',
          run: () => {
            closed = true;
            stopLoop();
          },
        },
        { name: 'metrics', run: () => o.metrics.flush?.() },
        { name: 'pm2 connection', run: () => o.control.close() },
      ],
      { log: o.log },
    ),
  };
}
