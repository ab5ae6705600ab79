/**
 * Where an exchange's time goes, hop by hop, from what BullMQ already
 * records on every job (added `timestamp`, `processedOn`, `finishedOn`) and
 * the hardware events' own `at`; no change to the apps. Completed jobs are
 * trimmed to the last 200 per queue (queue/connection.ts), so the recorder
 * reads them every second while the exchanges run. A transaction is joined
 * to its payout through the payout intent's `ref` (its transaction id).
 *
 *   bill event at ─▶ hw-events added ─▶ business picks up ─▶ hw-commands payout added ─▶ hardware picks up
 *   ─▶ payout_done at ─▶ hw-events added ─▶ business picks up ─▶ outbox transaction added ─▶ mqtt picks up
 *   ─▶ outbox job finished ─▶ cloud peer receives
 */
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../shared/keys.js';
import { makeQueue, queueNames } from '../queue/index.js';
import type { Completed } from './exchanges.js';
import { percentile } from './proc-stats.js';

interface Stamp {
  name: string;
  data: any;
  timestamp: number;
  processedOn: number;
  finishedOn: number;
}

export class JobRecorder {
  private readonly queues: Record<'hwEvents' | 'hwCommands' | 'outbox', Queue>;
  readonly jobs = { hwEvents: new Map<string, Stamp>(), hwCommands: new Map<string, Stamp>(), outbox: new Map<string, Stamp>() };
  /** Transaction id → its payout command (the payout intent's `ref`). */
  readonly payoutOf = new Map<string, Stamp>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.queues = {
      hwEvents: makeQueue(queueNames.hwEvents, redis, keys.bullPrefix),
      hwCommands: makeQueue(queueNames.hwCommands, redis, keys.bullPrefix),
      outbox: makeQueue(queueNames.outbox, redis, keys.bullPrefix),
    };
  }

  async poll(): Promise<void> {
    for (const key of Object.keys(this.queues) as (keyof JobRecorder['queues'])[]) {
      const jobs: Job[] = await this.queues[key].getJobs(['completed'], 0, 199);
      for (const j of jobs) {
        if (!j?.id || !j.processedOn || !j.finishedOn || this.jobs[key].has(j.id)) continue;
        const stamp = { name: j.name, data: j.data, timestamp: j.timestamp, processedOn: j.processedOn, finishedOn: j.finishedOn };
        this.jobs[key].set(j.id, stamp);
        if (key === 'hwCommands' && j.name === 'payout') {
          const txnId = await this.redis.hget(this.keys.payoutIntent(j.data.payoutId), 'ref');
          if (txnId) this.payoutOf.set(txnId, stamp);
        }
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}

export const HOPS = [
  ['hardware: bill event → hw-events job added', 'bill.at', 'billJob.timestamp'],
  ['BullMQ hw-events → business picks up bill_accepted', 'billJob.timestamp', 'billJob.processedOn'],
  ['business: credit, payout intent (+ wait in the payout lane), hw-commands job added', 'billJob.processedOn', 'payoutCmd.timestamp'],
  ['BullMQ hw-commands → hardware picks it up', 'payoutCmd.timestamp', 'payoutCmd.processedOn'],
  ['hardware: sim pays 10 coins → payout_done event', 'payoutCmd.processedOn', 'done.at'],
  ['hardware: payout_done event → hw-events job added', 'done.at', 'doneJob.timestamp'],
  ['BullMQ hw-events → business picks up payout_done', 'doneJob.timestamp', 'doneJob.processedOn'],
  ['business: settle, transaction + accounting → outbox job added', 'doneJob.processedOn', 'txnJob.timestamp'],
  ['BullMQ outbox → mqtt picks it up', 'txnJob.timestamp', 'txnJob.processedOn'],
  ['mqtt: delivery state + publish → broker → cloud peer', 'txnJob.processedOn', 'peer.at'],
] as const;

export interface HopStat {
  hop: string;
  p50: number;
  p99: number;
  mean: number;
}

export interface Breakdown {
  exchanges: number;
  hops: HopStat[];
  /** End to end over the same exchanges, for comparison with the sum of the hops. */
  total: HopStat;
}

/** One exchange's hops in ms (in the order of HOPS), where its jobs were all recorded. */
export interface ExchangeHops {
  exchange: Completed;
  hops: number[];
}

/** Joins each completed exchange with its jobs; exchanges whose jobs were trimmed before a poll are left out. */
export function hopsOf(rec: JobRecorder, completed: Completed[]): ExchangeHops[] {
  const events = [...rec.jobs.hwEvents.values()];
  const bills = new Map(events.filter((e) => e.name === 'bill_accepted').map((e) => [e.data.at as number, e]));
  const dones = new Map(events.filter((e) => e.name === 'payout_done').map((e) => [e.data.payoutId as string, e]));
  const rows: ExchangeHops[] = [];
  for (const c of completed) {
    const billJob = bills.get(c.eventAt);
    const txnJob = rec.jobs.outbox.get(c.messageId);
    if (!billJob || !txnJob) continue;
    const payoutCmd = rec.payoutOf.get(c.transactionId);
    const doneJob = payoutCmd && dones.get(payoutCmd.data.payoutId);
    if (!payoutCmd || !doneJob || doneJob.processedOn > txnJob.timestamp) continue;
    const points: Record<string, number> = {
      'bill.at': c.eventAt,
      'billJob.timestamp': billJob.timestamp,
      'billJob.processedOn': billJob.processedOn,
      'payoutCmd.timestamp': payoutCmd.timestamp,
      'payoutCmd.processedOn': payoutCmd.processedOn,
      'done.at': doneJob.data.at,
      'doneJob.timestamp': doneJob.timestamp,
      'doneJob.processedOn': doneJob.processedOn,
      'txnJob.timestamp': txnJob.timestamp,
      'txnJob.processedOn': txnJob.processedOn,
      'peer.at': c.receivedAt,
    };
    rows.push({ exchange: c, hops: HOPS.map(([, from, to]) => points[to]! - points[from]!) });
  }
  return rows;
}

/** Per-hop statistics over the completed exchanges. */
export function breakdown(rec: JobRecorder, completed: Completed[]): Breakdown {
  const rows = hopsOf(rec, completed).map((r) => [...r.hops, r.exchange.latencyMs]);
  const stat = (hop: string, i: number): HopStat => {
    const v = rows.map((r) => r[i]!);
    return { hop, p50: percentile(v, 50), p99: percentile(v, 99), mean: v.reduce((a, b) => a + b, 0) / (v.length || 1) };
  };
  return { exchanges: rows.length, hops: HOPS.map(([hop], i) => stat(hop, i)), total: stat('end to end (event → cloud peer)', HOPS.length) };
}
