/**
 * The machine as the command handlers see it (MachinePort), on top of the
 * exchange engine: every change runs through the engine's one-at-a-time
 * lane, so a command never interleaves with a hardware event.
 */
import { once } from 'node:events';
import { isCritical } from '../../../shared/codes.js';
import type { RuntimeSettings } from '../../../shared/config.js';
import { CommandError } from '../../../shared/errors.js';
import { readJournalEntries } from '../../../shared/journal.js';
import type { MachineSnapshot } from '../../../shared/machine-state.js';
import type { Envelope } from '../../../shared/messages.js';
import type { Accounting } from '../accounting/accounting.js';
import type { BusinessDeps } from '../deps.js';
import type { DoubtDecision, DoubtResolution } from '../exchange/doubt.js';
import type { ExchangeEngine } from '../exchange/engine.js';
import { readRemote, type RemoteRecord } from '../state/records.js';
import type { Condition } from '../state/condition.js';
import type { LockControl } from './lock.js';
import type { JournalQuery, LockRequest, MachinePort, RemoteDispenseOutcome, RemoteDispenseRequest } from './machine-port.js';

/** A waiter re-reads the state at least this often, in case a settlement happened elsewhere. */
const RECHECK_MS = 500;

export class BusinessMachine implements MachinePort {
  constructor(
    private readonly core: BusinessDeps,
    private readonly engine: ExchangeEngine,
    private readonly condition: Condition,
    private readonly accounting: Accounting,
    private readonly lock: LockControl,
  ) {}

  snapshot(): Promise<MachineSnapshot> {
    return this.condition.snapshot();
  }

  async remoteDispense(req: RemoteDispenseRequest): Promise<RemoteDispenseOutcome> {
    const expired = () => new CommandError('EXPIRED', '逾時未開始出幣，已取消 (not started before its deadline; cancelled, nothing paid)');
    if (!(await readRemote(this.core.redis, this.core.keys, req.commandId))) {
      await this.engine.act(async () => {
        if (await readRemote(this.core.redis, this.core.keys, req.commandId)) return;
        if (this.core.clock.now() >= req.deadline) throw expired();
        // Checked again here, in line with hardware events: the handler's check may be a moment old.
        const s = await this.condition.snapshot();
        if (s.locked) throw new CommandError('MACHINE_LOCKED');
        const critical = s.activeErrors.filter(isCritical);
        if (critical.length > 0) throw new CommandError('MACHINE_FAULT', `active fault ${critical.join(', ')}`);
        if (s.doorOpen) throw new CommandError('MACHINE_FAULT', '前門開啟 (door open)');
        await this.engine.lane.remote(req);
      });
    }
    const done = await this.waitFor(async () => {
      const r = await readRemote(this.core.redis, this.core.keys, req.commandId);
      if (r?.state === 'done') return r;
      if (r?.state === 'cancelled') throw expired();
      // Past the deadline a payout that has not started is cancelled; one that started is waited for.
      if (r?.state === 'queued' && this.core.clock.now() >= req.deadline && (await this.engine.act(() => this.engine.lane.cancelRemote(req.commandId)))) throw expired();
      return null;
    });
    return outcome(done);
  }

  async dispenseQueued(commandId: string): Promise<boolean> {
    return (await readRemote(this.core.redis, this.core.keys, commandId)) !== null;
  }

  decideDoubt(decision: DoubtDecision): Promise<DoubtResolution> {
    return this.engine.act(() => this.engine.doubt.decide(decision));
  }

  setLock(req: LockRequest): Promise<void> {
    return this.engine.act(() => this.lock.apply(req));
  }

  async whenIdle(maxWaitMs = WHEN_IDLE_MAX_MS): Promise<void> {
    // Bounded: with customers queuing the lane may never empty. Restarting then is safe (intents are
    // durable, a payout out is settled from the hardware's status report at start), only less tidy.
    const deadline = Date.now() + maxWaitMs;
    await this.waitFor(async () => Date.now() >= deadline || !(await this.engine.busy()));
  }

  publishAccounting(): Promise<void> {
    return this.engine.act(() => this.accounting.publish());
  }

  publishStatus(): Promise<void> {
    return this.condition.publishStatus();
  }

  async applySettings(settings: RuntimeSettings): Promise<void> {
    const intervalChanged = settings.statusSeconds !== this.core.settings.current.statusSeconds;
    this.core.settings.current = settings;
    if (intervalChanged) this.condition.scheduleStatus();
    // Thresholds may have moved alarm 1 in or out.
    await this.engine.act(async () => undefined);
  }

  async readJournal(query: JournalQuery): Promise<Envelope[]> {
    return (await readJournalEntries(this.core.redis, this.core.keys, query)).map((e) => e.envelope);
  }

  /** Resolves with the first truthy value of `check`, re-checked after every settlement and every RECHECK_MS. */
  private async waitFor<T>(check: () => Promise<T | null | false>): Promise<T> {
    for (;;) {
      const v = await check();
      if (v) return v;
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), RECHECK_MS);
      await once(this.engine.settled, 'settled', { signal: ac.signal }).catch(() => undefined);
      clearTimeout(timer);
    }
  }
}

/** How long a restart waits for the payout lane to empty before it goes ahead, ms. */
const WHEN_IDLE_MAX_MS = 60_000;

function outcome(r: RemoteRecord): RemoteDispenseOutcome {
  return {
    success: r.success,
    coinsDispensed: r.coinsDispensed,
    coinsUnpaid: r.coinsUnpaid,
    coinsRemaining: r.coinsRemaining,
    transactionId: r.txnId,
    executionTimeMs: r.executionTimeMs,
  };
}
