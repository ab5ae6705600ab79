/**
 * Carries out the planned workload: customers inserting cash, operators
 * refilling, opening the door, raising and clearing faults on the machine
 * (the simulator's `control` queue as `coinerex sim` uses it, or the ccTalk
 * emulator's controls), and the cloud's
 * signed remote dispenses, repeats and locks. Nothing here waits for the
 * machine's answer: the machine's books are judged at the end against its
 * physical truth. An action that cannot be handed over (Redis or broker
 * down) is counted and dropped, as a customer would walk away.
 */
import type { ControlJob } from '../queue/index.js';
import type { Cash, WorkAction } from './plan.js';
import { commandId } from './plan.js';
import type { Rig } from './rig.js';

export type WorkKind = WorkAction['kind'] | 'burst_exchange';

/** How long a restoring action (clear, door shut) is retried while Redis is down, ms. */
const MUST_HAPPEN_MS = 30_000;
/** How long lock/unlock commands are repeated until answered, ms. */
const UNTIL_ANSWERED_MS = 60_000;

export interface WorkCount {
  /** Handed over to the control queue or published by the cloud. */
  done: number;
  /** Could not be handed over (Redis down), or a lock command never answered. */
  failed: number;
}

export class Workload {
  readonly counts = new Map<WorkKind, WorkCount>();

  constructor(
    private readonly rig: Rig,
    private readonly seed: number,
  ) {}

  async run(a: WorkAction): Promise<void> {
    switch (a.kind) {
      case 'exchange':
        return this.control('exchange', cashJob(a.amount));
      case 'refill':
        return this.control('refill', { action: 'refill', coins: a.coins });
      case 'door':
        // Shutting the door must happen, Redis outage or not; opening may be missed.
        return this.control('door', { action: 'door', open: a.open }, !a.open);
      case 'sim_fault':
        return this.control('sim_fault', { action: 'fault', code: a.code });
      case 'sim_clear':
        return this.control('sim_clear', { action: 'clear', code: a.code }, true);
      case 'jam':
        return this.control('jam', { action: 'jam' });
      case 'dispense':
        this.rig.commands.send(commandId(this.seed, a.n), 'coin_dispense', { coins_to_dispense: a.coins, coin_value: 10, reason: 'chaos', operator_account: 'chaos' });
        return this.count('dispense', true);
      case 'repeat':
        return this.count('repeat', this.rig.commands.repeat(commandId(this.seed, a.n), a.copies));
      case 'lock': {
        const data: Record<string, unknown> = { action: 'lock', reason: 'chaos', operator_id: 'chaos' };
        if (a.minutes !== null) data.duration_minutes = a.minutes;
        return this.lockCommand('lock', a.n, data);
      }
      case 'unlock':
        return this.lockCommand('unlock', a.n, { action: 'unlock', reason: 'chaos', operator_id: 'chaos' });
      case 'service':
        return this.service();
    }
  }

  /** Lock and unlock are repeated (same bytes) until answered: an operator does not give up, and a lost unlock would idle the machine for the rest of the run. */
  private async lockCommand(kind: 'lock' | 'unlock', n: number, data: Record<string, unknown>): Promise<void> {
    const result = await this.rig.commands.sendUntilAnswered(commandId(this.seed, n), 'lock', data, UNTIL_ANSWERED_MS);
    this.count(kind, result !== null);
  }

  private async service(): Promise<void> {
    let truth;
    try {
      truth = await this.rig.machine.truth();
    } catch {
      return this.count('service', false);
    }
    for (const code of truth.activeFaults) await this.control('sim_clear', { action: 'clear', code }, true);
    if (truth.doorOpen) await this.control('door', { action: 'door', open: false }, true);
    this.count('service', true);
  }

  /** Customers queueing up while the broker is down: one after the other, 100 ms apart. */
  async burst(amounts: readonly Cash[]): Promise<void> {
    for (const amount of amounts) {
      await this.control('burst_exchange', cashJob(amount));
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  total(kinds: readonly WorkKind[]): WorkCount {
    return kinds.reduce((s, k) => ({ done: s.done + (this.counts.get(k)?.done ?? 0), failed: s.failed + (this.counts.get(k)?.failed ?? 0) }), { done: 0, failed: 0 });
  }

  /** Hands `job` to the machine; `insist`: retried each second while it cannot be (at most MUST_HAPPEN_MS). */
  private async control(kind: WorkKind, job: ControlJob, insist = false): Promise<void> {
    const deadline = Date.now() + (insist ? MUST_HAPPEN_MS : 0);
    for (;;) {
      try {
        await this.rig.machine.act(job);
        return this.count(kind, true);
      } catch {
        if (Date.now() >= deadline) return this.count(kind, false);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  private count(kind: WorkKind, ok: boolean): void {
    const c = this.counts.get(kind) ?? { done: 0, failed: 0 };
    if (ok) c.done += 1;
    else c.failed += 1;
    this.counts.set(kind, c);
  }
}

function cashJob(amount: Cash): ControlJob {
  return amount === 50 ? { action: 'coin', amount } : { action: 'bill', amount };
}
