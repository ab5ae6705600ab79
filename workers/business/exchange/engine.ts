/**
 * The exchange engine: applies hardware events (queue/jobs.ts `HwEvent`)
 * to the books, one at a time, and drives the payout lane. After every
 * event it re-derives what follows from the state — inventory codes (42,
 * alarm 1), machine status and acceptors, the next payout — so a crash
 * between two steps is repaired by the next event or the next start.
 *
 * Each event kind has its handler in events/ (docs/protocol.md#5-device-messages,
 * docs/protocol.md#6-error-and-alarm-codes), behind the dispatcher in events/index.ts.
 */
import { EventEmitter } from 'node:events';
import { onWallClockGrid } from '../../../shared/clock.js';
import type { HwEvent } from '../../../queue/jobs.js';
import { APPLIED_TTL_SECONDS, type BusinessDeps } from '../deps.js';
import type { Accounting } from '../accounting/accounting.js';
import type { Faults } from '../faults/faults.js';
import { acceptorStopCodes, type Condition } from '../state/condition.js';
import { MEMORY_CODE } from '../state/memory-watch.js';
import { booksInventory, readStateView, type StateView } from '../state/state-view.js';
import { DebtDoubt } from './doubt.js';
import { PayoutLane, type LaneGate } from './payout-lane.js';
import { dispatch, guardsItself, type EventContext } from './events/index.js';
import type { Settlement } from './settlement.js';
import { defaultStuckPolicy, isStuck, type StuckPolicy } from './recovery.js';

export interface EngineParts {
  faults: Faults;
  condition: Condition;
  accounting: Accounting;
}

export class ExchangeEngine {
  readonly lane: PayoutLane;
  readonly doubt: DebtDoubt;
  /** Settlements, for waiters (remote dispense) and tests. */
  readonly settled = new EventEmitter();
  private chain: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private lastNews = new Map<string, number>();
  private report: { requestId: string; askedAt: number } | null = null;
  /** A settlement made by the change in hand, for its follow-up (accounting, 42 context, waiters). */
  private settlement: Settlement | null = null;
  private stopChecks: (() => void) | null = null;
  private readonly events: EventContext;

  constructor(
    private readonly core: BusinessDeps,
    private readonly parts: EngineParts,
    private readonly stuck: StuckPolicy = defaultStuckPolicy,
    /** How often a sent payout is checked for being stuck, ms. */
    private readonly checkEveryMs = 5_000,
  ) {
    this.lane = new PayoutLane(core, parts.faults);
    this.doubt = new DebtDoubt(core, parts.faults);
    this.events = {
      core,
      faults: parts.faults,
      lane: this.lane,
      doubt: this.doubt,
      heard: (payoutId) => this.heard(payoutId),
      settled: (s) => this.afterSettle(s),
      askStatus: () => this.askStatus(),
      answered: (requestId) => {
        if (!this.report || this.report.requestId !== requestId) return null;
        const askedAt = this.report.askedAt;
        this.report = null;
        return askedAt;
      },
    };
  }

  private heard(payoutId: string): void {
    this.lastNews.set(payoutId, this.core.clock.now());
  }

  /** Runs `fn` after every earlier state change has finished: one change at a time. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      this.inFlight++;
      try {
        return await fn();
      } finally {
        this.inFlight--;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Re-derives everything from the state and asks the hardware for its
   * state: inventory, door, and the fate of a payout a previous run left
   * `sent` (never re-sent blindly). Then checks for stuck payouts.
   */
  async start(): Promise<void> {
    await this.serial(async () => {
      // A restart is how the guide clears a setting fault (設定後重開): an unmapped event's fault ends here.
      for (const code of acceptorStopCodes) await this.parts.faults.clear('error', code, { onlySource: 'unmapped', context: { cleared_by: 'restart' } });
      await this.follow();
      await this.askStatus();
    });
    // Also repeats what follows a change, in case it failed after the change was committed (Redis unreachable).
    // One at a time (the grid waits for each), so checks do not pile up while Redis is unreachable; on the
    // wall-clock grid, where the app's other periodic work falls: one wake-up for all of it.
    this.stopChecks = onWallClockGrid(this.checkEveryMs, () =>
      this.serial(async () => {
        await this.checkStuck();
        await this.follow();
      }).catch((err) => this.core.log.warn({ err }, 'periodic check failed')),
    );
  }

  stop(): void {
    this.stopChecks?.();
    this.stopChecks = null;
  }

  /** True while an event or command is being applied or a payout is queued or out. */
  async busy(): Promise<boolean> {
    return this.inFlight > 0 || !(await this.lane.isEmpty());
  }

  /** Applies one hardware event. Safe to call again with the same event (BullMQ at-least-once). */
  handle(ev: HwEvent): Promise<void> {
    return this.serial(async () => {
      const applied = this.core.keys.appliedEvent(ev.eventId);
      const marked = !guardsItself.has(ev.kind);
      if (marked && (await this.core.redis.exists(applied)) === 1) return;
      this.settlement = null;
      await dispatch(ev, this.events);
      if (marked) await this.core.redis.set(applied, '1', 'EX', APPLIED_TTL_SECONDS);
      // The event is applied; what follows is derived from the state and repeated by the periodic check.
      const s = this.settlement;
      this.settlement = null;
      try {
        await this.follow(s ?? undefined);
      } catch (err) {
        this.core.log.warn({ err, eventId: ev.eventId }, 'follow-up failed; the periodic check repeats it');
      } finally {
        if (s) this.settled.emit('settled', s);
      }
    });
  }

  /**
   * Right after a settlement: its transaction (and error 51 for an unknown
   * outcome, committed with it) goes to the mqtt app before anything else;
   * the rest (42 with the shortfall, status, accounting, the waiter) follows
   * with the change's follow-up.
   */
  private async afterSettle(s: Settlement | null): Promise<void> {
    if (!s) return;
    this.settlement = s;
    this.lastNews.delete(s.intent.payoutId);
    await this.core.publisher.drain();
  }

  /**
   * After every change, from one read of the state: the next payout first
   * (a customer is waiting for it), then inventory codes, status and
   * acceptors, the accounting of a settlement, the outbox.
   */
  private async follow(s?: Settlement): Promise<void> {
    let v = await readStateView(this.core);
    if (await this.doubt.rederive(v)) v = await readStateView(this.core);
    const sent = await this.lane.pump(gateOf(v), v.head);
    if (sent) {
      this.heard(sent.payoutId);
      // Sending changed only the head intent's state (a debt intent it queued is the head it sent).
      v = { ...v, head: sent };
    }
    if (await this.inventoryCodes(v, s)) v = await readStateView(this.core);
    const snapshot = await this.parts.condition.refresh(v);
    const accounting = s !== undefined && (s.finished !== undefined || s.intent.purpose === 'debt');
    if (accounting) await this.parts.accounting.publish(snapshot);
    // Codes raised or cleared above re-read the view, so it counts their messages too.
    if (accounting || v.unsent > 0) await this.core.publisher.drain();
  }

  /**
   * 42 while the hopper is empty (raised once no payout is out, so its
   * context carries the coins still owed), cleared when coins are back and
   * no debt is left; alarm 1 below the warning level, cleared above it.
   * Only what differs from `v` is raised or cleared. True when a code changed.
   */
  private async inventoryCodes(v: StateView, s?: Settlement): Promise<boolean> {
    const { faults } = this.parts;
    const inventory = booksInventory(v);
    if (inventory === null) return false;
    const debt = v.snapshot.counters.debt_coins;
    const active = (f: string) => v.codes[f] !== undefined;
    let changed = false;
    if (inventory === 0 && v.head?.state !== 'sent') {
      if (!active('error:42')) {
        const context: Record<string, unknown> = { pending_dispense: debt, inventory: 0 };
        if (s && s.end === 'short') Object.assign(context, { payout_id: s.intent.payoutId, transaction_id: s.intent.ref || null, coins_paid: s.paid, coins_unpaid: s.intent.coins - s.paid });
        changed = (await faults.raise('error', 42, { source: 'inventory', context })) || changed;
      }
    } else if (inventory > 0 && debt === 0 && active('error:42')) {
      changed = (await faults.clear('error', 42, { context: { inventory, pending_dispense: 0 } })) || changed;
    }
    const { lowCoinWarning, lowCoinCritical } = this.core.settings.current;
    const details = { inventory, low_warning_threshold: lowCoinWarning, low_critical_threshold: lowCoinCritical };
    if (inventory < lowCoinWarning) {
      if (!active('alarm:1')) changed = (await faults.raise('alarm', 1, { source: 'inventory', level: inventory, context: details })) || changed;
    } else if (active('alarm:1')) {
      changed = (await faults.clear('alarm', 1, { level: inventory, context: details })) || changed;
    }
    return changed;
  }

  /** Runs a state change from outside the event stream (a command), then what follows from it. */
  act<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const result = await fn();
      await this.follow();
      return result;
    });
  }

  private async askStatus(): Promise<void> {
    this.report = { requestId: await this.core.hardware.reportStatus(), askedAt: this.core.clock.now() };
    this.core.log.info({ requestId: this.report.requestId }, 'status report requested');
  }

  private async checkStuck(): Promise<void> {
    const head = await this.lane.head();
    if (head?.state !== 'sent') return;
    const now = this.core.clock.now();
    if (this.report && now - this.report.askedAt < this.stuck.reportTimeoutMs) return;
    // A payout left `sent` by a previous run has no news in this one: it counts from its sentAt.
    if (isStuck(head, this.lastNews.get(head.payoutId) ?? 0, now, this.stuck)) {
      this.core.log.warn({ payoutId: head.payoutId }, 'payout outcome unknown; asking the hardware');
      await this.askStatus();
    }
  }

}

/**
 * Whether and how much the lane may pay, from a view. Error 1 raised by the
 * memory watch stops intake, not the payouts of cash already taken.
 */
function gateOf(v: StateView): LaneGate {
  const errors = v.snapshot.activeErrors.filter((c) => !(c === MEMORY_CODE && v.sources[`error:${c}`] === 'memory'));
  return { errors, inventory: booksInventory(v), debt: v.snapshot.counters.debt_coins, doubt: v.doubt.coins };
}
