/**
 * Watches Redis memory: at COINEREX_REDIS_MEMORY_ALARM_PERCENT of maxmemory
 * error 1 (記憶異常, critical) is raised, which switches the acceptors off
 * and fails /health, while there is still room to record it and to finish
 * the payouts of cash already taken (the lane ignores this source of 1).
 * Cleared 5 points below the alarm level, so it does not flap.
 */
import { memoryHigh, memoryPercent, readRedisMemory, type RedisMemory } from '../../../shared/redis-memory.js';
import { onWallClockGrid } from '../../../shared/clock.js';
import type { BusinessDeps } from '../deps.js';
import type { Faults } from '../faults/faults.js';

export const MEMORY_CODE = 1;
const HYSTERESIS_PERCENT = 5;
const GAUGE_STEP_RATIO = 0.01;

/**
 * Whether the gauge is due for a rewrite: when used memory moved by 1 % of
 * maxmemory (of the last reading without a limit). At idle it drifts by tens
 * of kilobytes with the clients' buffers of the moment, and every write costs
 * an fsync.
 */
export function gaugeMoved(reported: number | null, m: RedisMemory): boolean {
  return reported === null || Math.abs(m.used - reported) >= (m.max > 0 ? m.max : reported) * GAUGE_STEP_RATIO;
}

export class MemoryWatch {
  private stopTimer: (() => void) | null = null;
  private running = false;
  private reported: number | null = null;

  constructor(
    private readonly core: BusinessDeps,
    private readonly faults: Faults,
    /** Runs a change in line with the machine's others, and what follows from it (acceptors). */
    private readonly act: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  start(): void {
    // On the wall-clock grid, where the app's other periodic work falls: one wake-up for all of it.
    this.stopTimer = onWallClockGrid(this.core.config.redisMemoryCheckSeconds * 1000, () => this.check());
    void this.check();
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = null;
  }

  /** One reading; raises or clears error 1. */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const m = await readRedisMemory(this.core.redis);
      const alarm = this.core.config.redisMemoryAlarmPercent;
      const context = { used_memory: m.used, maxmemory: m.max, percent: memoryPercent(m), alarm_percent: alarm };
      if (gaugeMoved(this.reported, m)) {
        this.core.metrics.set('redis_memory_used_bytes', m.used);
        this.reported = m.used;
      }
      const active = await this.faults.isActive('error', MEMORY_CODE);
      if (memoryHigh(m, alarm)) {
        if (!active) {
          this.core.log.error(context, 'Redis memory high: acceptors off until it is freed');
          await this.act(() => this.faults.raise('error', MEMORY_CODE, { source: 'memory', context }));
        }
      } else if (active && !memoryHigh(m, alarm - HYSTERESIS_PERCENT)) {
        await this.act(() => this.faults.clear('error', MEMORY_CODE, { onlySource: 'memory', context }));
      }
    } catch (err) {
      this.core.log.warn({ err }, 'Redis memory check failed');
    } finally {
      this.running = false;
    }
  }
}
