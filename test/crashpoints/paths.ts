/**
 * The money paths the crash-point tier explores: how each is brought to its
 * start (not counted) and how it is set going (counted), through the same
 * doors a customer, an operator and the cloud use — the simulator's control
 * queue, signed commands, the daily-close queue.
 */
import { localDay } from '../../shared/clock.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { readPhysicalTruth, readRecentPayouts } from '../../shared/physical-truth.js';
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
  /** Resolves once a step the harness itself takes late in the path (an operator's decision) is done; the rig waits for it before settling. */
  done?(n: number): Promise<unknown>;
}

const DAY_MS = 86_400_000;
const snapshot = (rig: Rig) => readMachineSnapshot(rig.db, rig.env.keys, localDay(Date.now(), rig.env.config.timezone));
const dispenseId = (n: number, tag: string) => `CP-${tag}-${n}`;

/** Sends signed dispenses until the hopper holds `left` coins (each waits for its result). */
async function drainHopper(rig: Rig, n: number, left: number): Promise<void> {
  for (let i = 0; ; i++) {
    const inventory = (await readPhysicalTruth(rig.db, rig.env.keys)).inventory;
    if (inventory <= left) return;
    const coins = Math.min(200, inventory - left);
    const r = await rig.commands.sendUntilAnswered(dispenseId(n, `drain${i}`), 'coin_dispense', { coins_to_dispense: coins, coin_value: 10, reason: 'crashpoints setup', operator_account: 'crashpoints' }, 60_000, 20_000);
    if (r?.status !== 'success') throw new Error(`setup: draining the hopper failed: ${JSON.stringify(r)}`);
  }
}

/** Where run n of an unknown-outcome path started, and the operator's decision it sends once 51 is up. */
const unknownRuns = new Map<number, { at: number; dispensed: number; bills: number; decision: Promise<unknown> }>();
const DECISION_MS = 240_000;

/**
 * A payout with an unknown outcome: a 100 NTD bill whose 10-coin payout loses
 * the board's power (the simulator's `power_cut`: after all its coins when
 * `paid`, before any when not). The board forgets the payout and its count,
 * the business app finds the payout stuck, gets a status report without
 * inventory and settles it `unknown`: 10 coins of debt in doubt and error 51,
 * in one write. The operator, having counted the hopper, answers with a
 * signed `clear_error` saying what happened; the path ends when it is answered.
 */
function unknownOutcome(paid: boolean): MoneyPath {
  return {
    name: paid ? 'unknown-paid' : 'unknown-not-paid',
    // The refill (not counted) gives the board its count back after an earlier run and keeps coins on hand.
    setup: async (rig) => {
      await rig.control.add('refill', { action: 'refill', coins: 20 });
      await waitFor(async () => {
        const [t, s] = await Promise.all([readPhysicalTruth(rig.db, rig.env.keys), snapshot(rig)]);
        return !t.countLost && s.inventory === t.inventory && s.counters.debt_coins === 0;
      }, 60_000, 'the hopper counted and booked');
      await rig.control.add('power_cut', { action: 'power_cut', paid });
      await waitFor(async () => (await readPhysicalTruth(rig.db, rig.env.keys)).powerCut !== null, 30_000, 'power cut armed');
    },
    trigger: async (rig, n) => {
      const t = await readPhysicalTruth(rig.db, rig.env.keys);
      const decide = async () => {
        await waitFor(async () => (await snapshot(rig)).activeErrors.includes(51) && Number(await rig.db.hget(rig.env.keys.debtDoubt, 'coins')) > 0, DECISION_MS, 'error 51 with coins in doubt', 200);
        return rig.commands.sendUntilAnswered(dispenseId(n, 'e51'), 'clear_error', { error_code: 51, coins_paid: paid, operator_id: 'crashpoints', reason: 'hopper counted' }, DECISION_MS, 20_000);
      };
      const decision = decide().catch((err: Error) => err);
      unknownRuns.set(n, { at: Date.now(), dispensed: t.dispensed, bills: t.bills[100], decision });
      await rig.control.add('bill', { action: 'bill', amount: 100 });
    },
    done: (n) => unknownRuns.get(n)?.decision ?? Promise.resolve(),
    async checks(rig, n) {
      const run = unknownRuns.get(n);
      if (!run) return [];
      const decision = (await run.decision) as { status?: string; result?: Record<string, unknown> } | Error | null;
      const [t, s, doubt] = await Promise.all([readPhysicalTruth(rig.db, rig.env.keys), snapshot(rig), rig.db.hgetall(rig.env.keys.debtDoubt)]);
      const lost = (await readRecentPayouts(rig.db, rig.env.keys, 50)).filter((p) => p.lost && p.acceptedAt >= run.at);
      const lostId = lost[0]?.payoutId;
      const e51 = rig.peer.unique().filter((r) => r.payload?.data?.error_code === 51);
      const raised = e51.filter((r) => r.payload?.data?.state === 'raised' && r.payload?.data?.context?.payout_id === lostId);
      const cleared = e51.filter((r) => r.payload?.data?.state === 'cleared' && r.payload?.data?.context?.resolution === (paid ? 'paid' : 'not_paid') && Number(r.payload?.timestamp) * 1000 >= run.at - 1000);
      const result = decision instanceof Error || decision === null ? null : decision;
      // A crash before the simulator finished the bill's control job runs it again: a second customer, paid in full.
      const bills = t.bills[100] - run.bills;
      return [
        { invariant: 2, name: 'one payout lost with the power', ok: lost.length === 1, detail: `${lost.length} lost payouts` },
        // Paid: the lost payout's coins left, the debt is not paid. Not paid: none left, the debt payout pays them. 10 a bill either way.
        { invariant: 2, name: 'the 10 coins in doubt left the hopper exactly once', ok: bills >= 1 && t.dispensed - run.dispensed === 10 * bills, detail: `${t.dispensed - run.dispensed} coins left the hopper for ${bills} bill(s) of 100 NTD` },
        { invariant: 2, name: 'the operator\'s decision answered', ok: result?.status === 'success' && result.result?.resolution === (paid ? 'paid' : 'not_paid') && result.result?.coins_in_doubt === 10, detail: decision instanceof Error ? decision.message : JSON.stringify(decision) },
        { invariant: 2, name: paid ? 'the debt in doubt written off, nothing owed' : 'the debt in doubt paid, nothing owed', ok: s.counters.debt_coins === 0 && Object.keys(doubt).length === 0 && !s.activeErrors.includes(51), detail: `debt_coins ${s.counters.debt_coins}, in doubt ${JSON.stringify(doubt)}, errors ${s.activeErrors.join(',')}` },
        { invariant: 5, name: 'error 51 raised once for the lost payout, at the cloud', ok: lostId !== undefined && raised.length === 1, detail: `${raised.length} distinct raised messages for ${lostId}` },
        { invariant: 5, name: 'the decision reached the cloud', ok: cleared.length === 1, detail: `${cleared.length} distinct cleared messages with resolution ${paid ? 'paid' : 'not_paid'}` },
      ];
    },
  };
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
  unknownOutcome(true),
  unknownOutcome(false),
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
