/**
 * Gathers what the invariants are judged on, once the system is at rest:
 * physical truth, counters, journal, delivery state and the overflow drops
 * the mqtt app logged (read from its PM2 log), the cloud's receipts and the
 * commands it sent.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localDay } from '../shared/clock.js';
import { readDeliveryStats } from '../shared/delivery-state.js';
import { readJournalEntries } from '../shared/journal.js';
import { readMachineSnapshot } from '../shared/machine-state.js';
import type { CloudTransaction, Evidence, JournalRecord, TxnData } from './invariants.js';
import type { ReplayOutcome } from './replay.js';
import { chaosBonusTable, type Rig } from './rig.js';
import type { SettleOutcome } from './settle.js';

/** Overflow drops as the mqtt app logs them (workers/mqtt/delivery.ts `logDropped`): one JSON line with `dropped: [{id, type}]`. */
export async function droppedFromLogs(pm2Home: string): Promise<Array<{ id: string; type: string }>> {
  const dir = join(pm2Home, 'logs');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith('mqtt'));
  const out: Array<{ id: string; type: string }> = [];
  for (const f of files) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      if (!line.includes('"dropped"')) continue;
      try {
        const entry = JSON.parse(line) as { dropped?: unknown };
        if (Array.isArray(entry.dropped)) for (const d of entry.dropped as Array<{ id: string; type: string }>) out.push({ id: String(d.id), type: String(d.type) });
      } catch {
        // Not a log record of ours.
      }
    }
  }
  return out;
}

export async function gatherEvidence(rig: Rig, settled: SettleOutcome, replay: ReplayOutcome): Promise<{ evidence: Evidence; dropped: Array<{ id: string; type: string }> }> {
  const { db, env } = rig;
  const k = env.keys;
  const [truth, snap, booksInventory, journal, delivery, failedRaw, dropped] = await Promise.all([
    rig.machine.truth(),
    readMachineSnapshot(db, k, localDay(Date.now(), env.config.timezone)),
    db.hget(k.machine, 'inventory'),
    readJournalEntries(db, k, { since: null, until: null, limit: Number.MAX_SAFE_INTEGER }),
    readDeliveryStats(db, k),
    db.hgetall(k.outFailed),
    droppedFromLogs(rig.stack.home),
  ]);
  // The journal also keeps the operator's error-51 decisions (DEBT51_<ms>, error messages): checked apart from the transactions.
  const journalRecords: JournalRecord[] = journal
    .filter((j) => j.envelope.message_type === 'transaction')
    .map((j) => ({ transactionId: j.transactionId, messageId: j.envelope.message_id, data: j.envelope.data as unknown as TxnData }));
  const decisions = journal.filter((j) => j.envelope.message_type !== 'transaction').map((j) => ({ entry: j.transactionId, messageId: j.envelope.message_id }));
  const cloudTransactions: CloudTransaction[] = rig.peer
    .unique('transaction')
    .map((r) => ({ messageId: String(r.payload.message_id), data: r.payload.data as TxnData }));
  const failedMessages = Object.entries(failedRaw).map(([id, raw]) => {
    try {
      return { id, type: String((JSON.parse(raw) as { type?: string }).type ?? '') };
    } catch {
      return { id, type: '' };
    }
  });
  const evidence: Evidence = {
    truth,
    counters: snap.counters,
    booksInventory: booksInventory === null ? null : snap.inventory,
    hopperCounts: rig.machine.hopperCounts,
    journal: journalRecords,
    decisions,
    cloudMessageIds: rig.peer.unique().map((r) => String(r.payload.message_id)),
    cloudTransactions,
    commands: [...rig.commands.sent.values()].map((c) => ({ id: c.id, type: c.type, coins: c.coins, results: rig.commands.results(c.id) })),
    bonusTable: chaosBonusTable,
    delivery,
    droppedLogged: dropped.map((d) => d.id),
    replay: { missing: replay.missing.map((m) => m.messageId), recovered: replay.recovered },
    failedMessages,
    settle: { settled: settled.settled, unmet: settled.unmet },
  };
  return { evidence, dropped };
}
