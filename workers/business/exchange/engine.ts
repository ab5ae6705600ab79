/**
 * The exchange engine: applies hardware events (queue/jobs.ts `HwEvent`)
 * to the books, one at a time, and drives the payout lane. After every
 * event it re-derives what follows from the state — inventory codes (42,
 * alarm 1), machine status and acceptors, the next payout — so a crash
 * between two steps is repaired by the next event or the next start.
 *
 * Event → effect (docs/protocol.md#5-device-messages, docs/protocol.md#6-error-and-alarm-codes):
 *  - bill/coin accepted → counted, transaction opened, payout queued
 *  - payout_done → attempt settled; transaction + accounting; 42 when the hopper ran dry
 *  - fault_raised / fault_cleared → that error code (41 from a jam, 21 from the bill acceptor…)
 *  - door → alarm 2;  hopper_level → inventory, 44 (low-level sensor), alarm 1 (threshold), one plan under the event's guard
 *  - hopper_empty → inventory 0 (42 once no payout is in flight)
 *  - link down → error 41 (nothing can be paid or accepted), cleared by link up
 *  - status_report → inventory, door, acceptors, and the verdict on a stuck payout
 */
import { EventEmitter } from 'node:events';
import type { HwEvent } from '../../../queue/jobs.js';
import { APPLIED_TTL_SECONDS, newPlan, type BusinessDeps } from '../deps.js';
import type { Plan } from '../store/plan.js';
import { confirmedFields } from '../state/acceptors.js';
import type { Accounting } from '../accounting/accounting.js';
import type { Faults } from '../faults/faults.js';
import { acceptorStopCodes, type Condition } from '../state/condition.js';
import { MEMORY_CODE } from '../state/memory-watch.js';
import { booksInventory, readStateView, type StateView } from '../state/state-view.js';
import { DebtDoubt } from './doubt.js';
import { PayoutLane, type LaneGate, type Settlement } from './payout-lane.js';
import { defaultStuckPolicy, endOf, isStuck, judge, type StatusReport, type StuckPolicy } from './recovery.js';

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
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: BusinessDeps,
    private readonly parts: EngineParts,
    private readonly stuck: StuckPolicy = defaultStuckPolicy,
    /** How often a sent payout is checked for being stuck, ms. */
    private readonly checkEveryMs = 5_000,
  ) {
    this.lane = new PayoutLane(core, parts.faults);
    this.doubt = new DebtDoubt(core, parts.faults);
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
    let running = false;
    this.timer = setInterval(() => {
      // One at a time: while Redis is unreachable the checks would otherwise pile up.
      if (running) return;
      running = true;
      this.serial(async () => {
        await this.checkStuck();
        await this.follow();
      })
        .catch((err) => this.core.log.warn({ err }, 'periodic check failed'))
        .finally(() => {
          running = false;
        });
    }, this.checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** True while an event or command is being applied or a payout is queued or out. */
  async busy(): Promise<boolean> {
    return this.inFlight > 0 || !(await this.lane.isEmpty());
  }

  /** Applies one hardware event. Safe to call again with the same event (BullMQ at-least-once). */
  handle(ev: HwEvent): Promise<void> {
    return this.serial(async () => {
      const applied = this.core.keys.appliedEvent(ev.eventId);
      // Credits, payout ends, levels and the door carry their guard inside their plan; progress changes
      // nothing durable; acceptors_set is absolute; the rest are marked once done.
      const unmarked = ['bill_accepted', 'coin_accepted', 'payout_done', 'payout_progress', 'acceptors_set', 'hopper_level', 'hopper_empty', 'door'];
      const marked = !unmarked.includes(ev.kind);
      if (marked && (await this.core.redis.exists(applied)) === 1) return;
      this.settlement = null;
      await this.apply(ev);
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

  private async apply(ev: HwEvent): Promise<void> {
    const { faults } = this.parts;
    const m = this.core.keys.machine;
    switch (ev.kind) {
      case 'bill_accepted':
      case 'coin_accepted':
        await this.lane.credit(ev);
        return;
      case 'payout_progress':
        this.lastNews.set(ev.payoutId, this.core.clock.now());
        return;
      case 'payout_done': {
        const intent = await this.lane.intent(ev.payoutId);
        const guard = this.core.keys.appliedEvent(ev.eventId);
        // The level after the payout is absolute: it is written once, in the settlement's plan (or alone) under
        // the event's guard, so a re-run of the event never writes it over coins paid since (docs/durability.md).
        if (intent?.state === 'sent') {
          const level = ev.hopper?.coins ?? (ev.reason === 'hopper_empty' ? 0 : undefined);
          await this.afterSettle(await this.lane.settle(intent, Math.min(ev.paid, intent.coins), endOf(ev.reason, intent.coins - ev.paid), guard, level));
        } else if (ev.hopper) {
          await this.guarded(guard, (plan) => plan.hset(m, { inventory: ev.hopper!.coins }));
        }
        if (ev.hopper) await this.guarded(this.core.keys.appliedEvent(`${ev.eventId}-sensor`), (plan) => this.lowSensorWith(plan, ev.hopper!.coins, ev.hopper!.lowSensor));
        return;
      }
      case 'fault_raised':
        await faults.raise('error', ev.code, { source: 'hardware', context: ev.context ?? {} });
        return;
      case 'fault_cleared':
        if (ev.code === 51) await this.doubt.clearedAtMachine();
        else await faults.clear('error', ev.code);
        return;
      case 'door':
        await this.guarded(this.core.keys.appliedEvent(ev.eventId), async (plan) => {
          plan.hset(m, ev.open ? { doorOpen: 1 } : { doorOpen: 0, lastMaintenanceAt: this.core.clock.now() });
          if (ev.open) await faults.raiseWith(plan, 'alarm', 2, { source: 'door', level: 'open', context: { door: 'open' } });
          else await faults.clearWith(plan, 'alarm', 2, { level: 'closed', context: { door: 'closed' } });
        });
        return;
      case 'hopper_level':
        await this.guarded(this.core.keys.appliedEvent(ev.eventId), (plan) => this.lowSensorWith(plan.hset(m, { inventory: ev.coins }), ev.coins, ev.lowSensor));
        return;
      case 'hopper_empty':
        await this.guarded(this.core.keys.appliedEvent(ev.eventId), (plan) => plan.hset(m, { inventory: 0 }));
        return;
      case 'link':
        if (ev.up) {
          await faults.clear('error', 41, { onlySource: 'link', context: { link: 'up' } });
          await this.askStatus();
        } else {
          await faults.raise('error', 41, { source: 'link', context: { link: 'down', cause: 'hardware link lost' } });
        }
        return;
      case 'status_report':
        await this.onStatusReport(ev);
        return;
      case 'unmapped':
        await this.unmapped(ev);
        return;
      case 'acceptors_set':
        // Absolute: a late, older confirmation only makes the condition send the wanted state again.
        await this.core.redis.hset(m, confirmedFields(ev));
        return;
      default: {
        const never: never = ev;
        throw new Error(`unhandled hardware event ${(never as { kind: string }).kind}`);
      }
    }
  }

  /**
   * A hardware event the agent cannot map: error 8 (a bill), 7 (a coin) or 6
   * (anything else) with the event in its context, which switches the
   * acceptors off until cleared; its cash is counted in `unmapped_ntd`, once
   * (guarded by the event id).
   */
  private async unmapped(ev: Extract<HwEvent, { kind: 'unmapped' }>): Promise<void> {
    const code = ev.source === 'bill' ? 8 : ev.source === 'coin' ? 7 : 6;
    this.core.log.error({ ev }, 'unmapped hardware event: fault raised, acceptors off');
    await this.parts.faults.raise('error', code, { source: 'unmapped', context: { event: ev.source, amount: ev.amount ?? null, detail: ev.detail, event_id: ev.eventId } });
    if (ev.amount) {
      await newPlan(this.core).guard(this.core.keys.appliedEvent(ev.eventId), APPLIED_TTL_SECONDS).hincr(this.core.keys.counters, { unmapped_ntd: ev.amount }).commit(this.core.redis);
    }
  }

  /**
   * Commits what `add` puts into one plan guarded by `guardKey` (an event's
   * applied key): an absolute write applies once, atomically with its guard,
   * so a re-run never writes it over what happened since (docs/architecture.md).
   * Rebuilt when a code it expected changed under it (the plan was stale).
   */
  private async guarded(guardKey: string, add: (plan: Plan) => unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const plan = newPlan(this.core).guard(guardKey, APPLIED_TTL_SECONDS);
      await add(plan);
      if ((await plan.commit(this.core.redis)) !== 'stale') return;
      if (attempt === 3) throw new Error(`plan guarded by ${guardKey} stale ${attempt} times`);
    }
  }

  /** Adds error 44 (the hopper's low-level sensor) to `plan`: raised or cleared when it differs. */
  private async lowSensorWith(plan: Plan, coins: number, lowSensor: boolean): Promise<void> {
    const { faults } = this.parts;
    const active = await faults.isActive('error', 44);
    if (lowSensor && !active) await faults.raiseWith(plan, 'error', 44, { source: 'hardware', context: { inventory: coins } });
    else if (!lowSensor && active) await faults.clearWith(plan, 'error', 44, { context: { inventory: coins } });
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
      this.lastNews.set(sent.payoutId, this.core.clock.now());
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

  private async onStatusReport(ev: StatusReport): Promise<void> {
    const m = this.core.keys.machine;
    const level = ev.inventory;
    if (level !== null) await this.guarded(this.core.keys.appliedEvent(`${ev.eventId}-inventory`), (plan) => plan.hset(m, { inventory: level }));
    const doorOpen = (await this.core.redis.hget(m, 'doorOpen')) === '1';
    if (doorOpen !== ev.doorOpen) await this.apply({ kind: 'door', open: ev.doorOpen, eventId: `${ev.eventId}-door`, at: ev.at });
    // The report does not carry the inhibit set: a different on/off makes the confirmed state unknown, so it is sent again.
    if ((await this.core.redis.hget(m, 'acceptorsEnabled')) !== (ev.acceptorsEnabled ? '1' : '0')) await this.core.redis.hdel(m, 'acceptorsEnabled', 'acceptorsInhibit');
    if (!this.report || this.report.requestId !== ev.requestId) return;
    const askedAt = this.report.askedAt;
    this.report = null;
    const head = await this.lane.head();
    // A payout sent after the question cannot be in the answer.
    if (head?.state !== 'sent' || head.sentAt > askedAt) return;
    const verdict = judge(head, ev);
    this.core.log.info({ payoutId: head.payoutId, verdict }, 'stuck payout judged');
    if (verdict.action === 'wait') this.lastNews.set(head.payoutId, this.core.clock.now());
    else if (verdict.action === 'reissue') await this.lane.reissue(head);
    // The report's level already has the paid coins out: it is the books' level, not counted off again.
    else await this.afterSettle(await this.lane.settle(head, verdict.paid, verdict.end, this.core.keys.appliedEvent(`${ev.eventId}-${head.payoutId}`), level ?? undefined));
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
