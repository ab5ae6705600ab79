/**
 * The money paths the crash-point tier explores: how each is brought to its
 * start (not counted) and how it is set going (counted), through the same
 * doors a customer, an operator and the cloud use — the simulator's control
 * queue, signed commands, the daily-close queue.
 */
import { localDay } from '../../shared/clock.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { queueNames } from '../../queue/index.js';
import { waitFor } from '../helpers/env.js';
import type { Check } from '../../chaos/invariants.js';
import type { Rig } from '../../chaos/rig.js';

export interface MoneyPath {
  name: string;
  /** Brings the machine to the path's start; nothing here is counted. `n` numbers the run. */
  setup?(rig: Rig, n: number): Promise<void>;
  /** Sets the path going. Must not wait for the path to finish. */
  trigger(rig: Rig, n: number): Promise<void>;
  /** Checks of the path's own outcome, on top of the chaos invariants. */
  checks?(rig: Rig, n: number): Promise<Check[]>;
}

const DAY_MS = 86_400_000;
const snapshot = (rig: Rig) => readMachineSnapshot(rig.db, rig.env.keys, localDay(Date.now(), rig.env.config.timezone));
const dispenseId = (n: number, tag: string) => `CP-${tag}-${n}`;

/**
 * Sends signed dispenses until the hopper holds `left` coins (each waits for its result). A BUSY
 * refusal (signature checks saturated on a loaded machine) is asked again under a new id.
 */
async function drainHopper(rig: Rig, n: number, left: number): Promise<void> {
  for (let i = 0, busy = 0; ; i++) {
    const inventory = (await readPhysicalTruth(rig.db, rig.env.keys)).inventory;
    if (inventory <= left) return;
    const coins = Math.min(200, inventory - left);
    const r = await rig.commands.sendUntilAnswered(dispenseId(n, `drain${i}`), 'coin_dispense', { coins_to_dispense: coins, coin_value: 10, reason: 'crashpoints setup', operator_account: 'crashpoints' }, 60_000, 20_000);
    if (r?.status === 'failed' && r.result.error_code === 'BUSY' && ++busy < 10) continue;
    if (r?.status !== 'success') throw new Error(`setup: draining the hopper failed: ${JSON.stringify(r)}`);
  }
}

/** Day n before today, at noon UTC: each daily-close run closes a day of its own. */
const closedDay = (n: number) => Math.floor(Date.now() / DAY_MS) * DAY_MS - n * DAY_MS + DAY_MS / 2;

export const moneyPaths: readonly MoneyPath[] = [
  {
    name: 'exchange-bill',
    trigger: async (rig) => void (await rig.control.add('bill', { action: 'bill', amount: 100 })),
  },
  {
    name: 'exchange-coin',
    trigger: async (rig) => void (await rig.control.add('coin', { action: 'coin', amount: 50 })),
  },
  {
    name: 'remote-dispense',
    trigger: async (rig, n) => {
      // The cloud publishes again until answered, as after a lost QoS 0 command; not sooner than 20 s, since a
      // repeat of a dispense still running is answered BUSY (a finding of its own, reported by the recording run).
      void rig.commands.sendUntilAnswered(dispenseId(n, 'rd'), 'coin_dispense', { coins_to_dispense: 7, coin_value: 10, reason: 'crashpoints', operator_account: 'crashpoints' }, 120_000, 20_000);
    },
  },
  {
    name: 'debt-payout',
    // A 100 NTD bill with 3 coins in the hopper: 3 paid, 7 owed; the refill then pays the debt. The agent
    // inhibits a bill it cannot pay for, so the bill is a stray one (an acceptor that takes it anyway).
    setup: async (rig, n) => {
      await drainHopper(rig, n, 3);
      await rig.control.add('bill', { action: 'bill', amount: 100, stray: true });
      await waitFor(async () => {
        const s = await snapshot(rig);
        return s.counters.debt_coins > 0 && (await rig.db.llen(rig.env.keys.payoutLane)) === 0;
      }, 60_000, 'debt recorded');
    },
    trigger: async (rig) => void (await rig.control.add('refill', { action: 'refill', coins: 200 })),
  },
  {
    name: 'daily-close',
    trigger: async (rig, n) => void (await rig.queues[queueNames.businessSchedule].add('daily-close', {}, { prevMillis: closedDay(n) })),
    async checks(rig, n) {
      const date = new Date(closedDay(n)).toISOString().slice(0, 10);
      const reports = rig.peer.unique('accounting').filter((r) => r.payload?.data?.report === 'daily_close' && r.payload?.data?.daily?.date === date);
      return [{
        invariant: 5,
        name: `the daily close of ${date} reached the cloud under one message_id`,
        ok: reports.length === 1,
        detail: `${reports.length} distinct message ids`,
      }];
    },
  },
];
