/**
 * The remote lock (docs/protocol.md#lock): persisted in Redis so it
 * survives restarts, raises alarm 3 while locked, shows its message, and
 * unlocks itself at `until` — also when `until` passed while the app was
 * down. Acceptors follow from the lock through Condition.refresh().
 */
import type { LockRequest } from './machine-port.js';
import type { BusinessDeps } from '../deps.js';
import type { Faults } from '../faults/faults.js';

/** setTimeout's longest delay; a later unlock re-arms. */
const MAX_TIMER_MS = 2_147_483_647;
/** Shown while locked when the command gave no message. */
const defaultLockedText = '暫停兌幣';

export class LockControl {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: BusinessDeps,
    private readonly faults: Faults,
    /** Runs the unlock as a state change of the machine (serialized, then refreshed). */
    private readonly autoUnlock: () => Promise<void>,
  ) {}

  /** Persists the lock or unlock and raises/clears alarm 3. The caller refreshes the machine condition. */
  async apply(req: LockRequest): Promise<void> {
    const k = this.core.keys;
    const now = this.core.clock.now();
    if (req.locked) {
      const lock = { reason: req.reason ?? '', operatorId: req.operatorId ?? '', since: now, until: req.until ?? '', message: req.messageDisplay ?? '' };
      await this.core.redis.multi().del(k.lock).hset(k.lock, lock).hset(k.machine, { locked: 1, lockUntil: req.until ?? '' }).exec();
      await this.faults.raise('alarm', 3, { source: 'lock', level: 'locked', context: { reason: req.reason, operator_id: req.operatorId, until: req.until } });
      await this.core.hardware.display(req.messageDisplay || defaultLockedText);
    } else {
      await this.core.redis.multi().del(k.lock).hset(k.machine, { locked: 0, lockUntil: '' }).exec();
      await this.faults.clear('alarm', 3, { level: 'unlocked', context: { reason: req.reason, operator_id: req.operatorId } });
      await this.core.hardware.display(req.messageDisplay ?? '');
    }
    this.core.log.info({ locked: req.locked, until: req.until, reason: req.reason }, 'lock changed');
    this.arm(req.locked ? req.until : null);
  }

  /** At start: unlock an expired lock, re-arm a timed one, and make alarm 3 agree with the lock. */
  async restore(): Promise<void> {
    const m = await this.core.redis.hmget(this.core.keys.machine, 'locked', 'lockUntil');
    const locked = m[0] === '1';
    const until = m[1] ? Number(m[1]) : null;
    if (!locked) {
      await this.faults.clear('alarm', 3, { level: 'unlocked' });
      return;
    }
    await this.faults.raise('alarm', 3, { source: 'lock', level: 'locked', context: { until } });
    this.arm(until);
  }

  private arm(until: number | null): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (until === null) return;
    const wait = until - this.core.clock.now();
    this.timer = setTimeout(
      () => {
        this.timer = null;
        if (this.core.clock.now() < until) return this.arm(until);
        this.autoUnlock().catch((err) => this.core.log.error({ err }, 'auto-unlock failed'));
      },
      Math.min(Math.max(0, wait), MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
