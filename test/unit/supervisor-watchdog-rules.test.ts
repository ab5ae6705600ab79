/**
 * The watchdog's rules without PM2: who counts as hung, the grace period of a
 * fresh start, and the baseline that protects against Redis outages and clock
 * jumps (which would otherwise make every app look silent at once).
 */
import test from 'ava';
import { findHungApps, baselineTracker, type WatchdogInput } from '../../supervisor/watchdog.js';
import type { ManagedProcess } from '../../supervisor/process-control.js';

const T = 1_800_000_000_000;
const proc = (name: string, over: Partial<ManagedProcess> = {}): ManagedProcess => ({
  name,
  status: 'online',
  pid: 100,
  startedAt: T - 3_600_000,
  restarts: 0,
  memoryBytes: 1,
  cpuPercent: 0,
  ...over,
});
const input = (over: Partial<WatchdogInput>): WatchdogInput => ({
  now: T,
  baseline: T - 3_600_000,
  watchdogMs: 30_000,
  processes: [],
  beats: new Map(),
  watched: ['hardware', 'business', 'mqtt'],
  busy: new Set(),
  ...over,
});

test('an online app whose beat is older than the window is hung; a recent beat is not', (t) => {
  const hung = findHungApps(
    input({
      processes: [proc('hardware'), proc('business'), proc('mqtt')],
      beats: new Map([
        ['hardware', T - 2_000],
        ['business', T - 30_001],
        ['mqtt', T - 30_000],
      ]),
    }),
  );
  t.deepEqual(hung, [{ name: 'business', lastBeatAt: T - 30_001, silentMs: 30_001 }]);
});

test('an app that never beat is hung once its start is older than the window', (t) => {
  const procs = [proc('hardware', { startedAt: T - 31_000 }), proc('mqtt', { startedAt: T - 5_000 })];
  t.deepEqual(findHungApps(input({ processes: procs })).map((h) => h.name), ['hardware']);
});

test('a freshly restarted app gets the whole window, even with an old beat from its previous life', (t) => {
  const procs = [proc('mqtt', { startedAt: T - 10_000 })];
  t.deepEqual(findHungApps(input({ processes: procs, beats: new Map([['mqtt', T - 600_000]]) })), []);
});

test('stopped, errored, unwatched and already-restarting apps are left alone', (t) => {
  const procs = [proc('hardware', { status: 'stopped' }), proc('business', { status: 'errored' }), proc('dashboard'), proc('mqtt')];
  t.deepEqual(findHungApps(input({ processes: procs, busy: new Set(['mqtt']) })), []);
});

test('nothing is judged from before the baseline', (t) => {
  const procs = [proc('business')];
  const beats = new Map([['business', T - 100_000]]);
  t.deepEqual(findHungApps(input({ processes: procs, beats, baseline: T - 20_000 })), []);
  t.is(findHungApps(input({ processes: procs, beats, baseline: T - 40_000 })).length, 1);
});

test('the baseline moves when reads resume after a failure', (t) => {
  const b = baselineTracker({ wall: T, mono: 0 }, 5_000);
  t.is(b.ok({ wall: T + 1_000, mono: 1_000 }), T);
  b.failed();
  b.failed();
  t.is(b.ok({ wall: T + 60_000, mono: 60_000 }), T + 60_000);
  t.is(b.ok({ wall: T + 61_000, mono: 61_000 }), T + 60_000);
});

test('the baseline moves when the wall clock jumps (NTP at boot), in either direction, not with normal drift', (t) => {
  const b = baselineTracker({ wall: T, mono: 0 }, 5_000);
  t.is(b.ok({ wall: T + 1_000 + 3_600_000, mono: 1_000 }), T + 3_601_000, 'forward jump');
  t.is(b.ok({ wall: T + 3_602_000 + 200, mono: 2_000 }), T + 3_601_000, 'small drift ignored');
  t.is(b.ok({ wall: T, mono: 3_000 }), T, 'backward jump');
});
