/**
 * One read of everything the engine derives its follow-up from — machine,
 * counters, active codes and their sources, the day's totals and the head of
 * the payout lane — in one MULTI (plus the head intent), instead of the two
 * dozen separate reads the follow-up used to make after every event
 * (docs/performance.md). A view is stale once anything is written; every
 * write still goes through a guarded plan, so a decision taken on a stale
 * view cannot commit twice.
 */
import type { MachineSnapshot } from '../../../shared/machine-state.js';
import { machineSnapshotOf } from '../../../shared/machine-state.js';
import { today, type BusinessDeps } from '../deps.js';
import { readIntent, type PayoutIntent } from './records.js';

export interface StateView {
  snapshot: MachineSnapshot;
  /** The `machine` hash as stored (status, acceptorsEnabled, serviceStatus as last written; inventory absent until reported). */
  machine: Record<string, string>;
  /** Active codes, `error:<n>` / `alarm:<n>` → raised-at ms. */
  codes: Record<string, string>;
  /** What raised each active code. */
  sources: Record<string, string>;
  head: PayoutIntent | null;
  /** Messages committed but not yet handed to the mqtt app. */
  unsent: number;
  /** Debt in doubt (keys.debtDoubt): coins held for a person, and whether error 51 about them was cleared without a choice. */
  doubt: { coins: number; acknowledged: boolean };
}

export async function readStateView(core: BusinessDeps): Promise<StateView> {
  const k = core.keys;
  const replies = await core.redis
    .multi()
    .hgetall(k.machine)
    .hgetall(k.counters)
    .hgetall(k.activeCodes)
    .hgetall(k.codeSources)
    .hgetall(k.daily(today(core)))
    .lindex(k.payoutLane, 0)
    .llen(k.unsent)
    .hgetall(k.debtDoubt)
    .exec();
  if (!replies) throw new Error('state view: transaction aborted');
  const [machine, counters, codes, sources, daily, headId, unsent, doubt] = replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  }) as [Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>, string | null, number, Record<string, string>];
  const head = headId === null ? null : await readIntent(core.redis, k, headId);
  return {
    snapshot: machineSnapshotOf({ machine, counters, codes, daily }),
    machine,
    codes,
    sources,
    head,
    unsent,
    doubt: { coins: Number(doubt.coins ?? 0), acknowledged: doubt.acknowledged === '1' },
  };
}

/** The books' inventory, or null while the hardware never reported a level. */
export function booksInventory(v: StateView): number | null {
  return v.machine.inventory === undefined ? null : Number(v.machine.inventory);
}
