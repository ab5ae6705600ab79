/**
 * Which apps are hung: an online app whose liveness beat is older than the
 * watchdog window. Pure, so the rules are tested without PM2.
 */
import type { ManagedProcess } from './process-control.js';

export interface WatchdogInput {
  now: number;
  /**
   * Beats are not judged from before this moment: the supervisor's own start,
   * Redis coming back (apps could not beat while it was down) or a wall-clock
   * jump (NTP at boot would make every beat look hours old).
   */
  baseline: number;
  watchdogMs: number;
  processes: readonly ManagedProcess[];
  beats: ReadonlyMap<string, number | null>;
  /** App names the watchdog may restart. */
  watched: readonly string[];
  /** Apps with a restart in progress: left alone until it finishes. */
  busy: ReadonlySet<string>;
}

export interface HungApp {
  name: string;
  lastBeatAt: number | null;
  /** How long the app has been silent, ms (from the later of its last beat, its start and the baseline). */
  silentMs: number;
}

export function findHungApps(input: WatchdogInput): HungApp[] {
  const hung: HungApp[] = [];
  for (const p of input.processes) {
    if (!input.watched.includes(p.name) || p.status !== 'online' || input.busy.has(p.name)) continue;
    const beat = input.beats.get(p.name) ?? null;
    // A freshly (re)started app gets the whole window to beat: its start time counts as a beat.
    const since = Math.max(beat ?? -Infinity, p.startedAt ?? -Infinity, input.baseline);
    const silentMs = input.now - since;
    if (silentMs > input.watchdogMs) hung.push({ name: p.name, lastBeatAt: beat, silentMs });
  }
  return hung;
}

/**
 * Tracks the baseline: moves it to "now" when reads resume after a failure
 * or when the wall clock moved differently from the monotonic clock.
 */
export function baselineTracker(start: { wall: number; mono: number }, jumpToleranceMs: number) {
  let baseline = start.wall;
  let last = start;
  let failing = false;
  return {
    get value(): number {
      return baseline;
    },
    /** A tick could not read PM2 or Redis. */
    failed(): void {
      failing = true;
    },
    /** A tick read everything; returns the baseline to judge with. */
    ok(now: { wall: number; mono: number }): number {
      const jump = Math.abs(now.wall - last.wall - (now.mono - last.mono));
      if (failing || jump > jumpToleranceMs) baseline = now.wall;
      failing = false;
      last = now;
      return baseline;
    },
  };
}
