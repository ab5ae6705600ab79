/**
 * The simulator driver: bill validator, coin acceptor, hopper with an
 * inventory and a low-level sensor, door sensor and display, whose physical
 * truth lives in Redis (shared/physical-truth.ts) so a restart of the
 * hardware app does not reset the machine. Every change runs through one
 * chain (one step at a time) and commits truth and events atomically
 * (truth-store.ts); events reach the sink through the pending list.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { hwCommandSchema, type ControlJob, type HwCommand, type HwEvent } from '../../../queue/jobs.js';
import type { RedisKeys } from '../../../shared/keys.js';
import { systemClock, type Clock } from '../../../shared/clock.js';
import { DriverError, type EventBatchSink, type EventSink, type HardwareDriver } from '../driver.js';
import { PendingEvents, Resync, type PendingEventsOptions } from '../pending-events.js';
import { stampEvent } from '../events.js';
import { TruthStore, type Step } from './truth-store.js';
import { PayoutRunner } from './payout-runner.js';
import * as actions from './actions.js';
import { acceptAndPayAll, acceptPayout, payoutStep, statusReport, stopUnfinished, type HopperSettings } from './hopper.js';

/** Pause before reading the pending list again after a write whose outcome is unknown. */

export interface SimOptions {
  /** Coins in the hopper on the very first start on this Redis (COINEREX_SIM_INVENTORY). */
  initialInventory: number;
  /** Time for one coin to leave the hopper, ms (COINEREX_SIM_PAYOUT_MS). */
  payoutMs: number;
  /** The low-level sensor trips below this many coins. Default 30. */
  lowLevel?: number;
  /** A `payout_progress` every this many coins. Default 10. */
  progressEvery?: number;
  /** An armed jam stops the next payout after this many coins. Default 3. */
  jamAfterCoins?: number;
  /** Payouts listed in a `status_report`, newest first. Default 20. */
  statusPayouts?: number;
  pending?: PendingEventsOptions;
  clock?: Clock;
}

/** The physical side of the simulator: what the CLI's `control` jobs and simulated customers do. */
export interface Simulator {
  insertCash(amount: actions.Cash): Promise<'accepted' | 'refused'>;
  act(job: ControlJob): Promise<string>;
}

export interface SimDeps {
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
}

export class SimDriver implements HardwareDriver, Simulator {
  private readonly store: TruthStore;
  private readonly pending: PendingEvents;
  private readonly runner: PayoutRunner;
  private readonly hopper: HopperSettings;
  private readonly clock: Clock;
  private readonly log: Logger;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly resync: Resync;
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(
    deps: SimDeps,
    private readonly opts: SimOptions,
  ) {
    this.log = deps.log;
    this.clock = opts.clock ?? systemClock;
    this.store = new TruthStore(deps.redis, deps.keys);
    this.pending = new PendingEvents(deps.redis, deps.keys, deps.log, opts.pending);
    this.resync = new Resync(
      this.pending,
      (read) => void (this.chain = this.chain.then(read)),
      () => this.closing !== undefined,
    );
    this.hopper = { lowLevel: opts.lowLevel ?? 30, progressEvery: opts.progressEvery ?? 10, jamAfterCoins: opts.jamAfterCoins ?? 3 };
    // Timed coins only: a hopper that takes no time pays a payout in its acceptance commit (execute).
    this.runner = new PayoutRunner(
      (id) => this.apply([id], (s) => payoutStep(s, id, this.clock.now(), this.hopper, this.stamp)),
      opts.payoutMs,
      deps.log,
    );
  }

  onEvent(sink: EventSink): void {
    this.pending.onDeliver(async (events) => {
      for (const event of events) await sink(event);
    });
  }

  onEvents(sink: EventBatchSink): void {
    this.pending.onDeliver(sink);
  }

  async start(): Promise<void> {
    if (this.started) return;
    // Events left pending by the last run are delivered first.
    await this.pending.sync();
    const now = this.clock.now();
    if (await this.apply([], (s) => actions.initialize(s, this.opts.initialInventory, now))) {
      this.log.info({ inventory: this.opts.initialInventory }, 'simulator initialized');
    }
    for (const id of await this.store.openPayouts()) {
      const stopped = await this.apply([id], (s) => stopUnfinished(s, id, this.clock.now(), this.hopper));
      if (stopped === 'stopped') this.log.warn({ payoutId: id }, 'payout interrupted by a restart; stopped, not resumed');
    }
    // Tell the business app where the hopper stands after the (re)start, if the board knows.
    await this.apply([], (s) => {
      if (s.truth.countLost) return { result: undefined };
      const level = [this.stamp(actions.hopperLevel(s.truth.inventory, this.hopper.lowLevel))];
      if (s.truth.inventory === 0) level.push(this.stamp({ kind: 'hopper_empty' }));
      return { change: { events: level }, result: undefined };
    });
    this.started = true;
    this.pending.kick();
  }

  async execute(cmd: HwCommand): Promise<void> {
    const parsed = hwCommandSchema.safeParse(cmd);
    if (!parsed.success) throw new DriverError('INVALID', `invalid hardware command: ${parsed.error.message}`);
    this.ensureRunning();
    const c = parsed.data;
    switch (c.kind) {
      case 'payout': {
        const outcome =
          this.opts.payoutMs > 0
            ? await this.apply([c.payoutId], (s) => acceptPayout(s, c.payoutId, c.coins, this.clock.now(), this.stamp))
            : await this.apply([c.payoutId], (s) => acceptAndPayAll(s, c.payoutId, c.coins, this.clock.now(), this.hopper, this.stamp));
        if (outcome === 'queued') this.runner.enqueue(c.payoutId);
        else if (outcome === 'known') this.log.info({ payoutId: c.payoutId }, 'repeated payout: not paid again, state re-reported');
        else if (outcome === 'lost') this.log.warn({ payoutId: c.payoutId }, 'power cut during the payout: the board lost it and its count');
        return;
      }
      case 'set_acceptors':
        await this.apply([], () => actions.setAcceptors(c.enabled, c.inhibit ?? []));
        return;
      case 'display':
        await this.apply([], () => actions.setDisplay(c.text));
        return;
      case 'report_status': {
        // Unfinished payouts are always listed, however many newer ones there are.
        const [recent, open] = await Promise.all([this.store.recentPayoutIds(this.opts.statusPayouts ?? 20), this.store.openPayouts()]);
        const ids = [...new Set([...open, ...recent])];
        await this.apply(ids, (s) => statusReport(s, c.requestId, ids, this.stamp));
        return;
      }
    }
  }

  async insertCash(amount: actions.Cash, stray = false): Promise<'accepted' | 'refused'> {
    this.ensureRunning();
    const result = await this.apply([], (s) => actions.insertCash(s.truth, amount, this.stamp, stray));
    if (result === 'refused') this.log.info({ amount }, 'refused: acceptors disabled, cash handed back');
    return result;
  }

  /** One simulator action from the CLI (`coinerex sim …`). */
  async act(job: ControlJob): Promise<string> {
    this.ensureRunning();
    switch (job.action) {
      case 'bill':
      case 'coin':
        return this.insertCash(job.amount, job.stray);
      case 'fault':
        return this.apply([], (s) => actions.raiseFault(s.truth, job.code, this.stamp));
      case 'clear':
        return this.apply([], (s) => actions.clearFault(s.truth, job.code, this.stamp));
      case 'door':
        return this.apply([], (s) => actions.setDoor(s.truth, job.open, this.stamp));
      case 'refill':
        return this.apply([], (s) => actions.refill(s.truth, job.coins, this.hopper.lowLevel, this.stamp));
      case 'jam':
        return this.apply([], () => actions.armJam());
      case 'power_cut':
        return this.apply([], () => actions.armPowerCut(job.paid));
    }
  }

  /** Stops the hopper after the coin in hand and the event delivery after the event in hand. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.runner.stop();
      this.resync.cancel();
      await this.chain;
      await this.pending.close();
    })();
    return this.closing;
  }

  private ensureRunning(): void {
    if (!this.started || this.closing) throw new DriverError('LINK_DOWN', 'simulator is not running');
  }

  private readonly stamp: actions.Stamp = (draft) => stampEvent(draft, this.clock.now());

  /**
   * One step at a time, in arrival order; the events it recorded are handed
   * over right after, from memory (pending-events.ts). A step whose outcome is
   * unknown (an error) makes the pending list be read again first.
   */
  private apply<R>(payoutIds: readonly string[], step: Step<R>): Promise<R> {
    // The store may compute the step more than once (conflicts); the last computation is the one it committed.
    let events: readonly HwEvent[] = [];
    const counted: Step<R> = (s) => {
      const outcome = step(s);
      events = outcome.change?.events ?? [];
      return outcome;
    };
    const run = this.chain.then(async () => {
      await this.pending.sync();
      return this.store.apply(payoutIds, counted);
    });
    this.chain = run.then(
      () => this.pending.recorded(events),
      () => {
        this.pending.markStale();
        this.resync.later();
      },
    );
    return run;
  }
}
