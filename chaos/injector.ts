/**
 * Injects the planned faults one after the other: kill -9 or pm2 restart of
 * an app (waiting until PM2 has it online again), the broker stopped and
 * restarted, redis-server killed and restarted from its AOF, a signed soft
 * restart command; on ccTalk peripherals also the adapter pulled, a device
 * unplugged, reset or spoiling its replies, the hopper's power cut. Each is recorded with how long it took and how it went.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { metricField } from '../shared/metrics.js';
import { waitFor } from '../test/helpers/env.js';
import type { CctalkFaultKind, ChaosApp, FaultAction, FaultKind } from './plan.js';
import { commandId } from './plan.js';
import type { Rig } from './rig.js';
import type { Workload } from './workload.js';

export interface FaultRecord {
  kind: FaultKind;
  app?: ChaosApp;
  /** ms from the start of the chaos phase. */
  at: number;
  tookMs: number;
  outcome: 'done' | 'skipped' | 'error';
  /** Aimed at a payout in flight, and whether one was out when the fault struck. */
  midPayout?: boolean;
  detail?: string;
}

/** How long an app may take to be online again after a kill or restart (PM2 back-off included). */
const BACK_ONLINE_MS = 120_000;
/** How long a soft restart may take to be carried out before it counts as postponed. */
const RESTART_WAIT_MS = 60_000;
/** How long a mid-payout fault waits for a payout to be out before striking anyway. */
const PAYOUT_WAIT_MS = 10_000;

export class Injector {
  readonly records: FaultRecord[] = [];
  /** Soft-restart commands the device answered with success. */
  private restartsAccepted = 0;

  constructor(
    private readonly rig: Rig,
    private readonly workload: Workload,
    private readonly seed: number,
    private readonly startedAt: number,
    private readonly say: (line: string) => void,
  ) {}

  async inject(f: FaultAction): Promise<void> {
    const at = Date.now() - this.startedAt;
    let midPayout: boolean | undefined;
    const record = (outcome: FaultRecord['outcome'], detail?: string, kind: FaultKind = f.kind, app?: ChaosApp) => {
      const r: FaultRecord = { kind, at, tookMs: Date.now() - this.startedAt - at, outcome };
      if (app) r.app = app;
      if (midPayout !== undefined) r.midPayout = midPayout;
      if (detail) r.detail = detail;
      this.records.push(r);
      const aimed = midPayout === undefined ? '' : midPayout ? ' mid-payout' : ' (no payout came out in time)';
      this.say(`${(at / 1000).toFixed(1).padStart(7)} s  ${kind}${app ? ` ${app}` : ''}${aimed}: ${outcome}${detail ? ` (${detail})` : ''}`);
    };
    try {
      switch (f.kind) {
        case 'kill9': {
          if (f.midPayout) midPayout = await this.awaitPayout();
          const outcome = await this.kill9(f.app);
          return record(outcome.outcome, outcome.detail, f.kind, f.app);
        }
        case 'pm2_restart': {
          const old = await this.rig.stack.pid(f.app);
          await this.rig.stack.pm2('restart', f.app);
          await this.rig.stack.waitOnline(f.app, old, BACK_ONLINE_MS);
          return record('done', undefined, f.kind, f.app);
        }
        case 'broker_outage': {
          await this.rig.broker.stop();
          const burst = this.workload.burst(f.burst);
          let killed: Promise<void> = Promise.resolve();
          if (f.killDuring) {
            const app = f.killDuring;
            killed = sleep(f.downMs / 2)
              .then(() => this.kill9(app))
              .then((o) => record(o.outcome, `${o.detail ?? ''} during a broker outage`.trim(), 'kill9', app));
          }
          await sleep(f.downMs);
          await this.rig.broker.start();
          await Promise.all([burst, killed]);
          return record('done', `down ${f.downMs} ms, ${f.burst.length} customers meanwhile`);
        }
        case 'redis_outage':
          if (f.midPayout) midPayout = await this.awaitPayout();
          await this.rig.redis.kill9();
          await sleep(f.downMs);
          await this.rig.redis.start();
          return record('done', `down ${f.downMs} ms, restarted from the AOF`);
        case 'soft_restart': {
          const id = commandId(this.seed, f.n);
          const supervisor = await this.rig.stack.pid('supervisor');
          const result = await this.rig.commands.sendUntilAnswered(id, 'restart', { restart_type: 'soft', delay_seconds: 0, reason: 'chaos' }, 30_000);
          if (!result) return record('skipped', 'no result within 30 s');
          if (result.status !== 'success') return record('skipped', `refused: ${JSON.stringify(result.result)}`);
          // The supervisor restarts hardware, business, mqtt, then itself; the business app asks only once its payout lane is empty.
          this.restartsAccepted += 1;
          const carriedOut = await waitFor(async () => (await this.restartsPending()) === 0 && (await this.restartedSince(supervisor)), RESTART_WAIT_MS, 'soft restart carried out', 1_000).then(
            () => true,
            () => false,
          );
          if (carriedOut) return record('done', 'every app restarted by the supervisor');
          return record('skipped', `accepted, not carried out within ${RESTART_WAIT_MS / 1000} s: postponed until the payout lane is empty`);
        }
        case 'cable_pull':
        case 'device_unplug':
        case 'hopper_powercut':
        case 'device_reset':
        case 'hostile': {
          const detail = await this.cctalkFault(f, async () => void (midPayout = await this.awaitPayout()));
          return record('done', detail);
        }
      }
    } catch (err) {
      record('error', (err as Error).message);
    }
  }

  /** The ccTalk peripherals' faults (chaos/cctalk.ts); each leaves the device as it was before. */
  private async cctalkFault(f: Extract<FaultAction, { kind: CctalkFaultKind }>, aimAtPayout: () => Promise<void>): Promise<string> {
    const bus = this.rig.cctalk;
    if (!bus) throw new Error('a ccTalk fault on a run without ccTalk peripherals');
    switch (f.kind) {
      case 'cable_pull':
        await bus.pullCable(f.downMs);
        return `adapter out ${f.downMs} ms`;
      case 'device_unplug':
        if (f.midPayout) await aimAtPayout();
        await bus.command(`unplug ${f.device}`);
        await sleep(f.downMs);
        await bus.command(`plug ${f.device}`);
        return `${f.device} silent ${f.downMs} ms`;
      case 'hopper_powercut': {
        await aimAtPayout();
        const cut = await bus.command('powercut');
        await sleep(f.downMs);
        await bus.command('plug hopper');
        return `paid ${String(cut.paid)}, unpaid ${String(cut.unpaid)}, power back after ${f.downMs} ms`;
      }
      case 'device_reset':
        // A reset empties the acceptor's buffer: struck once it was read, as a coin in flight would be lost to anyone.
        await bus.quietly(() => bus.command(`reset ${f.device}`));
        return `${f.device} reset`;
      case 'hostile':
        await bus.command(`hostile ${f.spoil} ${f.n}`);
        return `${f.n} × ${f.spoil}`;
    }
  }

  /** True once the supervisor that was `pid` has been replaced (a soft restart ends with it). */
  private async restartedSince(pid: number): Promise<boolean> {
    const p = (await this.rig.stack.list()).find((x) => x.name === 'supervisor');
    return p !== undefined && p.status === 'online' && p.pid > 0 && p.pid !== pid;
  }

  /**
   * Accepted soft restarts not yet carried out; the books are not judged while one may still strike.
   * The supervisor counts each soft restart of itself, its last step (supervisor/restart-requests.ts).
   */
  async restartsPending(): Promise<number> {
    const field = metricField('app_restarts_total', { app: 'supervisor', reason: 'soft_restart' });
    const carried = Number((await this.rig.db.hget(this.rig.env.keys.metrics, field)) ?? 0);
    return Math.max(0, this.restartsAccepted - carried);
  }

  /** Brings a customer with a 1000 bill and waits until a payout is out (the lane's head `sent`). True when one is. */
  private async awaitPayout(): Promise<boolean> {
    const { db, env } = this.rig;
    const out = async () => {
      const head = await db.lindex(env.keys.payoutLane, 0);
      return head !== null && (await db.hget(env.keys.payoutIntent(head), 'state')) === 'sent';
    };
    if (await out().catch(() => false)) return true;
    void this.workload.burst([1000]);
    return waitFor(out, PAYOUT_WAIT_MS, 'a payout in flight', 20).then(
      () => true,
      () => false,
    );
  }

  private async kill9(app: ChaosApp): Promise<{ outcome: FaultRecord['outcome']; detail?: string }> {
    const pid = await this.rig.stack.pid(app);
    if (!pid) return { outcome: 'skipped', detail: 'not running at that moment' };
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      return { outcome: 'skipped', detail: `pid ${pid} already gone: ${(err as Error).message}` };
    }
    await this.rig.stack.waitOnline(app, pid, BACK_ONLINE_MS);
    return { outcome: 'done' };
  }

  countByKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.records) if (r.outcome === 'done') out[r.kind] = (out[r.kind] ?? 0) + 1;
    return out;
  }
}
