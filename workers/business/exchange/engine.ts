/**
 * The exchange engine: applies hardware events (queue/jobs.ts `HwEvent`)
 * to the books, one at a time, and drives the payout lane. After every
 * event it re-derives what follows from the state — inventory codes (42,
 * alarm 1), machine status and acceptors, the next payout — so a crash
 * between two steps is repaired by the next event or the next start.
 *
 * Event → effect (PROTOCOL.md §5, §6):
 *  - bill/coin accepted → counted, transaction opened, payout queued
 *  - payout_done → attempt settled; transaction + accounting; 42 when the hopper ran dry
 *  - fault_raised / fault_cleared → that error code (41 from a jam, 21 from the bill acceptor…)
 *  - door → alarm 2;  hopper_level → inventory, 44 (low-level sensor), alarm 1 (threshold)
 *  - hopper_empty → inventory 0 (42 once no payout is in flight)
 *  - link down → error 41 (nothing can be paid or accepted), cleared by link up
 *  - status_report → inventory, door, acceptors, and the verdict on a stuck payout
 */
import { EventEmitter } from 'node:events';
import type { HwEvent } from '../../../queue/jobs.js';
import { APPLIED_TTL_SECONDS, type BusinessDeps } from '../deps.js';
import type { Accounting } from '../accounting/accounting.js';
import type { Faults } from '../faults/faults.js';
import type { Condition } from '../machine/condition.js';
import { PayoutLane, type LaneGate, type Settlement } from './payout-lane.js';
import { defaultStuckPolicy, endOf, isStuck, judge, type StatusReport, type StuckPolicy } from './recovery.js';

export interface EngineParts {
  faults: Faults;
  condition: Condition;
  accounting: Accounting;
}

export class ExchangeEngine {
  readonly lane: PayoutLane;
  /** Settlements, for waiters (remote dispense) and tests. */
  readonly settled = new EventEmitter();
  private chain: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private lastNews = new Map<string, number>();
  private report: { requestId: string; askedAt: number } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly d: BusinessDeps,
    private readonly p: EngineParts,
    private readonly stuck: StuckPolicy = defaultStuckPolicy,
    /** How often a sent payout is checked for being stuck, ms. */
    private readonly checkEveryMs = 5_000,
  ) {
    this.lane = new PayoutLane(d);
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
        .catch((err) => this.d.log.warn({ err }, 'periodic check failed'))
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
      const applied = this.d.keys.appliedEvent(ev.eventId);
      // Credits and payout ends carry their guard inside their plan; progress changes nothing durable;
      // the rest are marked once done.
      const marked = !(ev.kind === 'bill_accepted' || ev.kind === 'coin_accepted' || ev.kind === 'payout_done' || ev.kind === 'payout_progress');
      if (marked && (await this.d.redis.exists(applied)) === 1) return;
      await this.apply(ev);
      if (marked) await this.d.redis.set(applied, '1', 'EX', APPLIED_TTL_SECONDS);
      // The event is applied; what follows is derived from the state and repeated by the periodic check.
      await this.follow().catch((err) => this.d.log.warn({ err, eventId: ev.eventId }, 'follow-up failed; the periodic check repeats it'));
    });
  }

  private async apply(ev: HwEvent): Promise<void> {
    const { faults } = this.p;
    const m = this.d.keys.machine;
    switch (ev.kind) {
      case 'bill_accepted':
      case 'coin_accepted':
        await this.lane.credit(ev);
        return;
      case 'payout_progress':
        this.lastNews.set(ev.payoutId, this.d.clock.now());
        return;
      case 'payout_done': {
        const intent = await this.lane.intent(ev.payoutId);
        if (!intent || intent.state !== 'sent') return;
        if (ev.reason === 'hopper_empty') await this.d.redis.hset(m, 'inventory', 0);
        await this.afterSettle(await this.lane.settle(intent, Math.min(ev.paid, intent.coins), endOf(ev.reason, intent.coins - ev.paid), this.d.keys.appliedEvent(ev.eventId)));
        return;
      }
      case 'fault_raised':
        await faults.raise('error', ev.code, { source: 'hardware', context: ev.context ?? {} });
        return;
      case 'fault_cleared':
        await faults.clear('error', ev.code);
        return;
      case 'door':
        await this.d.redis.hset(m, ev.open ? { doorOpen: 1 } : { doorOpen: 0, lastMaintenanceAt: this.d.clock.now() });
        if (ev.open) await faults.raise('alarm', 2, { source: 'door', level: 'open', context: { door: 'open' } });
        else await faults.clear('alarm', 2, { level: 'closed', context: { door: 'closed' } });
        return;
      case 'hopper_level':
        await this.d.redis.hset(m, 'inventory', ev.coins);
        if (ev.lowSensor) await faults.raise('error', 44, { source: 'hardware', context: { inventory: ev.coins } });
        else await faults.clear('error', 44, { context: { inventory: ev.coins } });
        return;
      case 'hopper_empty':
        await this.d.redis.hset(m, 'inventory', 0);
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
      default: {
        const never: never = ev;
        throw new Error(`unhandled hardware event ${(never as { kind: string }).kind}`);
      }
    }
  }

  /** What follows a settled attempt: the remote waiter, and accounting once a transaction finished. */
  private async afterSettle(s: Settlement | null): Promise<void> {
    if (!s) return;
    this.lastNews.delete(s.intent.payoutId);
    if (s.end === 'unknown') {
      await this.p.faults.raise('error', 51, {
        source: 'engine',
        context: { payout_id: s.intent.payoutId, transaction_id: s.intent.ref || null, coins_in_doubt: s.intent.coins, debt_coins: s.debtAfter },
      });
    }
    await this.inventoryCodes(s);
    await this.p.condition.refresh();
    if (s.finished || s.intent.purpose === 'debt') await this.p.accounting.publish();
    this.settled.emit('settled', s);
  }

  /** After every change: inventory codes, status and acceptors, the next payout, the outbox. */
  private async follow(): Promise<void> {
    await this.inventoryCodes();
    await this.p.condition.refresh();
    const sent = await this.lane.pump(await this.gate());
    if (sent?.purpose === 'remote') await this.p.condition.refresh();
    if (sent) this.lastNews.set(sent.payoutId, this.d.clock.now());
    await this.d.publisher.drain();
  }

  async gate(): Promise<LaneGate> {
    const [inventory, debt, active] = await Promise.all([
      this.d.redis.hget(this.d.keys.machine, 'inventory'),
      this.d.redis.hget(this.d.keys.counters, 'debt_coins'),
      this.p.faults.active(),
    ]);
    return { errors: active.errors, inventory: inventory === null ? null : Number(inventory), debt: Number(debt ?? 0) };
  }

  /**
   * 42 while the hopper is empty (raised once no payout is out, so its
   * context carries the coins still owed), cleared when coins are back and
   * no debt is left; alarm 1 below the warning level, cleared above it.
   */
  private async inventoryCodes(s?: Settlement): Promise<void> {
    const { faults } = this.p;
    const g = await this.gate();
    if (g.inventory === null) return;
    const head = await this.lane.head();
    if (g.inventory === 0 && head?.state !== 'sent') {
      const context: Record<string, unknown> = { pending_dispense: g.debt, inventory: 0 };
      if (s && s.end === 'short') Object.assign(context, { payout_id: s.intent.payoutId, transaction_id: s.intent.ref || null, coins_paid: s.paid, coins_unpaid: s.intent.coins - s.paid });
      await faults.raise('error', 42, { source: 'inventory', context });
    } else if (g.inventory > 0 && g.debt === 0) {
      await faults.clear('error', 42, { context: { inventory: g.inventory, pending_dispense: 0 } });
    }
    const { lowCoinWarning, lowCoinCritical } = this.d.settings.current;
    const details = { inventory: g.inventory, low_warning_threshold: lowCoinWarning, low_critical_threshold: lowCoinCritical };
    if (g.inventory < lowCoinWarning) await faults.raise('alarm', 1, { source: 'inventory', level: g.inventory, context: details });
    else await faults.clear('alarm', 1, { level: g.inventory, context: details });
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
    this.report = { requestId: await this.d.hardware.reportStatus(), askedAt: this.d.clock.now() };
    this.d.log.info({ requestId: this.report.requestId }, 'status report requested');
  }

  private async checkStuck(): Promise<void> {
    const head = await this.lane.head();
    if (head?.state !== 'sent') return;
    const now = this.d.clock.now();
    if (this.report && now - this.report.askedAt < this.stuck.reportTimeoutMs) return;
    // A payout left `sent` by a previous run has no news in this one: it counts from its sentAt.
    if (isStuck(head, this.lastNews.get(head.payoutId) ?? 0, now, this.stuck)) {
      this.d.log.warn({ payoutId: head.payoutId }, 'payout outcome unknown; asking the hardware');
      await this.askStatus();
    }
  }

  private async onStatusReport(ev: StatusReport): Promise<void> {
    const m = this.d.keys.machine;
    if (ev.inventory !== null) await this.d.redis.hset(m, 'inventory', ev.inventory);
    const doorOpen = (await this.d.redis.hget(m, 'doorOpen')) === '1';
    if (doorOpen !== ev.doorOpen) await this.apply({ kind: 'door', open: ev.doorOpen, eventId: `${ev.eventId}-door`, at: ev.at });
    if ((await this.d.redis.hget(m, 'acceptorsEnabled')) !== (ev.acceptorsEnabled ? '1' : '0')) this.p.condition.resyncAcceptors();
    if (!this.report || this.report.requestId !== ev.requestId) return;
    const askedAt = this.report.askedAt;
    this.report = null;
    const head = await this.lane.head();
    // A payout sent after the question cannot be in the answer.
    if (head?.state !== 'sent' || head.sentAt > askedAt) return;
    const verdict = judge(head, ev);
    this.d.log.info({ payoutId: head.payoutId, verdict }, 'stuck payout judged');
    if (verdict.action === 'wait') this.lastNews.set(head.payoutId, this.d.clock.now());
    else if (verdict.action === 'reissue') await this.lane.reissue(head);
    else await this.afterSettle(await this.lane.settle(head, verdict.paid, verdict.end, this.d.keys.appliedEvent(`${ev.eventId}-${head.payoutId}`)));
  }
}
