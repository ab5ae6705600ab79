/**
 * Carries out the planned workload: customers inserting cash, operators
 * refilling, opening the door, raising and clearing faults through the
 * simulator's `control` queue (what `coinerex sim` does), and the cloud's
 * signed remote dispenses, repeats and locks. Nothing here waits for the
 * machine's answer: the machine's books are judged at the end against its
 * physical truth. An action that cannot be handed over (Redis or broker
 * down) is counted and dropped, as a customer would walk away.
 */
import type { ControlJob } from '../../queue/index.js';
import type { Cash, WorkAction } from './plan.js';
import { commandId } from './plan.js';
import type { Rig } from './rig.js';

export type WorkKind = WorkAction['kind'] | 'burst_exchange';

export interface WorkCount {
  /** Handed over to the control queue or published by the cloud. */
  done: number;
  /** Could not be handed over (Redis down). */
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
        return this.control('door', { action: 'door', open: a.open });
      case 'sim_fault':
        return this.control('sim_fault', { action: 'fault', code: a.code });
      case 'sim_clear':
        return this.control('sim_clear', { action: 'clear', code: a.code });
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
        this.rig.commands.send(commandId(this.seed, a.n), 'lock', data);
        return this.count('lock', true);
      }
      case 'unlock':
        this.rig.commands.send(commandId(this.seed, a.n), 'lock', { action: 'unlock', reason: 'chaos', operator_id: 'chaos' });
        return this.count('unlock', true);
    }
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

  private async control(kind: WorkKind, job: ControlJob): Promise<void> {
    try {
      await this.rig.control.add(job.action, job);
      this.count(kind, true);
    } catch {
      this.count(kind, false);
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
