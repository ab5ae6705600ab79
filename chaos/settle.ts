/**
 * After the chaos phase: bring the machine back to normal (faults cleared,
 * door shut, unlocked, enough coins for any debt) and wait until nothing is
 * in flight anywhere — every app online, payout lane empty, no open
 * transaction, every event applied, every message handed over and ACKed —
 * stable over several polls. Only then are the books worth checking.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { localDay } from '../shared/clock.js';
import { isCritical } from '../shared/codes.js';
import { readDeliveryStats } from '../shared/delivery-state.js';
import { readMachineSnapshot } from '../shared/machine-state.js';
import { queueNames } from '../queue/index.js';
import { commandId } from './plan.js';
import type { Rig } from './rig.js';

export interface SettleOutcome {
  settled: boolean;
  tookMs: number;
  /** Conditions still unmet at the deadline (empty when settled). */
  unmet: string[];
  /** What the harness did to restore the machine. */
  restored: string[];
}

/** Queues that must be empty: every event applied, every command and message handed on. */
const drainedQueues = [queueNames.hwEvents, queueNames.hwCommands, queueNames.commands, queueNames.outbox, queueNames.control] as const;
/** Consecutive polls that must all find the system quiet. */
const QUIET_POLLS = 3;
const POLL_MS = 1_000;

/** `restartsPending`: accepted soft restarts still to come (they would strike while the books are read). */
export async function settle(rig: Rig, seed: number, timeoutMs: number, restartsPending: () => Promise<number>): Promise<SettleOutcome> {
  const started = Date.now();
  const restored: string[] = [];
  if (!rig.broker.running) await rig.broker.start();
  if (!rig.redis.running) await rig.redis.start();
  let quiet = 0;
  let unmet: string[] = ['not checked yet'];
  let unlocks = 0;
  let lastUnlockAt = 0;
  while (Date.now() - started < timeoutMs) {
    try {
      unmet = await unmetConditions(rig);
      const restarts = await restartsPending();
      if (restarts > 0) unmet.push(`${restarts} accepted soft restart(s) not carried out yet`);
      if (unmet.length === 0) {
        if (++quiet >= QUIET_POLLS) return { settled: true, tookMs: Date.now() - started, unmet: [], restored };
      } else {
        quiet = 0;
        // Restore what an operator would: clear faults, shut the door, unlock, refill for the debt.
        const { db, env } = rig;
        const truth = await rig.machine.truth();
        for (const code of truth.activeFaults) {
          await rig.machine.act({ action: 'clear', code });
          restored.push(`clear ${code}`);
        }
        if (truth.doorOpen) {
          await rig.machine.act({ action: 'door', open: false });
          restored.push('door close');
        }
        const snap = await readMachineSnapshot(db, env.keys, localDay(Date.now(), env.config.timezone));
        if (snap.locked && Date.now() - lastUnlockAt > 10_000) {
          rig.commands.send(commandId(seed, `S${++unlocks}`), 'lock', { action: 'unlock', reason: 'chaos settle', operator_id: 'chaos' });
          lastUnlockAt = Date.now();
          restored.push('unlock');
        }
        const need = snap.counters.debt_coins + 300;
        if (truth.activeFaults.length === 0 && truth.inventory < need) {
          await rig.machine.act({ action: 'refill', coins: need - truth.inventory });
          restored.push(`refill ${need - truth.inventory}`);
        }
      }
    } catch (err) {
      quiet = 0;
      unmet = [`state not readable: ${(err as Error).message}`];
    }
    await sleep(quiet > 0 ? POLL_MS : 2 * POLL_MS);
  }
  return { settled: false, tookMs: Date.now() - started, unmet, restored };
}

/** What still keeps the system from being at rest; empty when it is. */
export async function unmetConditions(rig: Rig): Promise<string[]> {
  const { db, env } = rig;
  const k = env.keys;
  const unmet: string[] = [];
  const apps = await rig.stack.list();
  for (const a of apps) if (a.status !== 'online') unmet.push(`app ${a.name} ${a.status}`);
  const truth = await rig.machine.truth();
  if (truth.activeFaults.length > 0) unmet.push(`hardware faults ${truth.activeFaults.join(',')}`);
  if (truth.doorOpen) unmet.push('door open');
  // An armed jam (the next payout will stick) is no money in flight: it does not keep the books from being read.
  const snap = await readMachineSnapshot(db, k, localDay(Date.now(), env.config.timezone));
  if (snap.locked) unmet.push('locked');
  const critical = snap.activeErrors.filter(isCritical);
  if (critical.length > 0) unmet.push(`critical errors ${critical.join(',')}`);
  const [lane, unsent, hwPending] = await Promise.all([db.llen(k.payoutLane), db.llen(k.unsent), db.llen(k.hwPending)]);
  if (lane > 0) unmet.push(`${lane} payouts in the lane`);
  if (unsent > 0) unmet.push(`${unsent} committed messages not handed to the outbox`);
  if (hwPending > 0) unmet.push(`${hwPending} hardware events not handed over`);
  const open = await openTransactions(rig);
  if (open.length > 0) unmet.push(`open transactions ${open.join(',')}`);
  for (const name of drainedQueues) {
    const c = await rig.queues[name].getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    const busy = Object.values(c).reduce((s, n) => s + n, 0);
    if (busy > 0) unmet.push(`queue ${name}: ${JSON.stringify(c)}`);
  }
  const d = await readDeliveryStats(db, k);
  if (d.pending > 0 || d.buffered > 0) unmet.push(`delivery: ${d.pending} awaiting ACK, ${d.buffered} buffered`);
  return unmet;
}

/** Transactions credited (or ordered) but not finished: `txn:<id>` hashes. */
export async function openTransactions(rig: Rig): Promise<string[]> {
  const prefix = rig.env.keys.openTransaction('');
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await rig.db.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys.map((key) => key.slice(prefix.length)));
  } while (cursor !== '0');
  return found;
}
