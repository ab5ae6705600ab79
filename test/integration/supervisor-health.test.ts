/**
 * The supervisor's apps health record (what `coinerex status`, the heartbeat
 * diagnostics and the dashboard show) against the real Redis, with PM2
 * replaced by a scripted process list: it asks PM2 sparingly at idle, yet an
 * app that was launching is shown online, and an app started later is shown,
 * by the next tick — not only when the record is due for renewal.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { readAppsHealth } from '../../shared/app-health.js';
import { fixedClock, type Clock } from '../../shared/clock.js';
import { makeLogger } from '../../shared/logger.js';
import { redisMetrics } from '../../shared/metrics.js';
import type { ManagedProcess, ProcessControl } from '../../supervisor/process-control.js';
import { startSupervisor } from '../../supervisor/supervisor.js';
import { fakeBeats } from '../helpers/beats.js';
import { cleanupRedis, REDIS_URL, testEnv } from '../helpers/env.js';

const T = 1_800_000_000_000;
const proc = (name: string, status = 'online'): ManagedProcess => ({ name, status, pid: 100, startedAt: T, restarts: 0, memoryBytes: 1, cpuPercent: 0 });

/** The supervisor on the real Redis, PM2 replaced by `control`, no restart ever carried out. */
const supervise = (redis: Redis, keys: ReturnType<typeof testEnv>['keys'], control: ProcessControl, clock: Clock, monotonic: () => number, pollMs: number) =>
  startSupervisor({
    redis,
    keys,
    control,
    metrics: redisMetrics(redis, keys, 60_000),
    log: makeLogger('supervisor', 'silent'),
    clock,
    monotonic,
    watchdogMs: 600_000,
    pollMs,
    restarts: { execute: async () => undefined },
  });

test('an app launching at one tick is shown online at the next; an app started later appears at once', async (t) => {
  const env = testEnv();
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  const clock = fixedClock(T);
  let procs = [proc('hardware'), proc('business', 'launching'), proc('mqtt'), proc('supervisor')];
  let lists = 0;
  const control: ProcessControl = {
    list: async () => {
      lists++;
      return procs.map((p) => ({ ...p }));
    },
    restart: async () => undefined,
    close: async () => undefined,
  };
  const beats = fakeBeats(REDIS_URL, env.keys);
  const beat = (apps: string[]) => beats.beat(apps, clock.now());
  // A long poll period: ticks are driven by the test, and the record's renewal is far away.
  const supervisor = supervise(redis, env.keys, control, clock, () => clock.now(), 600_000);
  t.teardown(async () => {
    await supervisor.close();
    beats.close();
    await cleanupRedis(env.prefix);
    redis.disconnect();
  });
  const statusOf = async () => Object.fromEntries((await readAppsHealth(redis, env.keys)).map((a) => [a.name, a.status]));

  await beat(['hardware', 'mqtt', 'supervisor']);
  await supervisor.tick();
  t.like(await statusOf(), { business: 'launching' });

  procs = [proc('hardware'), proc('business'), proc('mqtt'), proc('supervisor')];
  clock.advance(5_000);
  await beat(['hardware', 'business', 'mqtt', 'supervisor']);
  await supervisor.tick();
  t.like(await statusOf(), { business: 'online' });

  procs = [...procs, proc('cloud-sim')];
  clock.advance(5_000);
  await beat(['hardware', 'business', 'mqtt', 'supervisor', 'cloud-sim']);
  await supervisor.tick();
  t.like(await statusOf(), { 'cloud-sim': 'online' });

  // Settled and every beat on time: PM2 is not asked again.
  const before = lists;
  clock.advance(5_000);
  await beat(['hardware', 'business', 'mqtt', 'supervisor', 'cloud-sim']);
  await supervisor.tick();
  t.is(lists, before, 'no PM2 list while every app is online and beating');
});

test('ticks never overlap: a grid tick during a slow first tick waits for it', async (t) => {
  const env = testEnv();
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  const POLL_MS = 100;
  let running = 0;
  let most = 0;
  let lists = 0;
  const control: ProcessControl = {
    // The first PM2 list (a board's daemon, busy at boot) outlasts several poll periods.
    list: async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, lists++ === 0 ? POLL_MS * 4 : 1));
      running--;
      return [proc('hardware'), proc('business'), proc('mqtt'), proc('supervisor')];
    },
    restart: async () => undefined,
    close: async () => undefined,
  };
  // No beats: every tick asks PM2 for its list, so each tick is seen in `list`.
  const supervisor = supervise(redis, env.keys, control, fixedClock(T), () => performance.now(), POLL_MS);
  t.teardown(async () => {
    await supervisor.close();
    await cleanupRedis(env.prefix);
    redis.disconnect();
  });
  await new Promise((r) => setTimeout(r, POLL_MS * 8));
  t.true(lists >= 2, `ticks ran after the slow one (${lists} lists)`);
  t.is(most, 1, 'one tick at a time');
});
