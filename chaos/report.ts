/** The chaos report: what was done, what the system made of it, and every check, as text and as JSON. */
import type { DeliveryStats } from '../shared/delivery-state.js';
import { ackRequired } from '../shared/topics.js';
import type { Received } from '../test/helpers/cloud-peer.js';
import type { FaultRecord } from './injector.js';
import type { Check, Evidence } from './invariants.js';
import type { ReplayOutcome } from './replay.js';
import type { SettleOutcome } from './settle.js';
import type { WorkCount, WorkKind } from './workload.js';

export interface ChaosReport {
  ok: boolean;
  seed: number;
  minutes: number;
  faultsPerMinute: number;
  deviceId: string;
  startedAt: string;
  /** Durations, ms. */
  timing: { startup: number; chaos: number; settle: number; total: number };
  redis: { conf: string; settings: Record<string, string> };
  faults: {
    injected: number;
    byKind: Record<string, number>;
    byApp: Record<string, number>;
    /** Faults aimed at a payout in flight, and how many struck while one was out. */
    midPayout: { aimed: number; hit: number };
    skipped: number;
    errors: number;
    records: FaultRecord[];
  };
  workload: Record<string, WorkCount>;
  exchanges: { offered: number; notQueued: number; accepted: number; cashInNtd: number };
  coins: { dispensed: number; remote: number; bonus: number; debtOutstanding: number; refilled: number; inventoryEnd: number; hopperEmptyEpisodes: number };
  commands: {
    sent: Record<string, number>;
    publishes: number;
    answered: number;
    outcomes: Record<string, number>;
    /** Every command: first sent at `at` ms from the start of the chaos phase; `result` null when none came back. */
    list: Array<{ id: string; type: string; coins: number | null; at: number; sends: number; result: string | null; faultsAround?: string[] }>;
    /** Commands that got no result although no fault was near when they were sent (a QoS 0 command is lost only when the link is). */
    unansweredInCalm: number;
  };
  messages: {
    device: { publishedByType: Record<string, number>; delivery: DeliveryStats };
    cloud: { received: number; receivedByType: Record<string, number>; uniqueByType: Record<string, number>; duplicates: number };
  };
  overflow: {
    droppedCounted: number;
    droppedLogged: number;
    droppedByType: Record<string, number>;
    missingBeforeReplay: number;
    recoveredByReplay: number;
    queries: ReplayOutcome['queries'];
  };
  settle: SettleOutcome;
  /** Jobs in each queue's failed set (kept for a week for inspection): a failed hw-events job is an event never applied. */
  failedJobs: Record<string, number>;
  checks: Check[];
  violations: Check[];
  /** Temp dir kept for inspection (PM2 logs, Redis AOF), or null. */
  keptDir: string | null;
}

export interface ReportInput {
  seed: number;
  minutes: number;
  faultsPerMinute: number;
  deviceId: string;
  startedAt: number;
  /** Epoch ms the chaos phase started: offsets in the report count from it. */
  chaosStart: number;
  timing: ChaosReport['timing'];
  redis: ChaosReport['redis'];
  faults: FaultRecord[];
  workload: Map<WorkKind, WorkCount>;
  evidence: Evidence;
  checks: Check[];
  received: readonly Received[];
  commandsSent: Array<{ id: string; type: string; sends: number; firstSentAt: number }>;
  metrics: Record<string, string>;
  dropped: Array<{ id: string; type: string }>;
  replay: ReplayOutcome;
  settle: SettleOutcome;
  failedJobs: Record<string, number>;
}

const tally = <T>(xs: readonly T[], key: (x: T) => string | null): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) {
    const k = key(x);
    if (k !== null) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};

/** `messages_published_total{type="transaction"}` and the like, from the shared metrics hash. */
function publishedByType(metrics: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [field, value] of Object.entries(metrics)) {
    const m = /^messages_published_total\{type="([^"]+)"\}$/.exec(field);
    if (m) out[m[1]!] = Number(value);
  }
  return out;
}

export function buildReport(i: ReportInput): ChaosReport {
  const e = i.evidence;
  const done = i.faults.filter((f) => f.outcome === 'done');
  const work = Object.fromEntries(i.workload) as Record<string, WorkCount>;
  const w = (k: WorkKind) => i.workload.get(k) ?? { done: 0, failed: 0 };
  const unique = new Map<string, Received>();
  for (const r of i.received) if (r.payload?.message_id && !unique.has(r.payload.message_id)) unique.set(r.payload.message_id, r);
  const tracked = i.received.filter((r) => ackRequired.has(r.type) && r.payload?.message_id);
  const results = e.commands.filter((c) => c.results.length > 0);
  const violations = i.checks.filter((c) => !c.ok);
  const list: ChaosReport['commands']['list'] = i.commandsSent.map((c) => {
    const rec = e.commands.find((x) => x.id === c.id);
    const at = c.firstSentAt - i.chaosStart;
    const answered = rec !== undefined && rec.results.length > 0;
    return { id: c.id, type: c.type, coins: rec?.coins ?? null, at, sends: c.sends, result: answered ? outcomeOf(rec) : null, ...(answered ? {} : { faultsAround: faultsAround(i.faults, at) }) };
  });
  return {
    ok: violations.length === 0,
    seed: i.seed,
    minutes: i.minutes,
    faultsPerMinute: i.faultsPerMinute,
    deviceId: i.deviceId,
    startedAt: new Date(i.startedAt).toISOString(),
    timing: i.timing,
    redis: i.redis,
    faults: {
      injected: done.length,
      byKind: tally(done, (f) => f.kind),
      byApp: tally(done, (f) => (f.app ? `${f.kind} ${f.app}` : null)),
      midPayout: { aimed: done.filter((f) => f.midPayout !== undefined).length, hit: done.filter((f) => f.midPayout === true).length },
      skipped: i.faults.filter((f) => f.outcome === 'skipped').length,
      errors: i.faults.filter((f) => f.outcome === 'error').length,
      records: i.faults,
    },
    workload: work,
    exchanges: {
      offered: w('exchange').done + w('burst_exchange').done,
      notQueued: w('exchange').failed + w('burst_exchange').failed,
      accepted: e.journal.filter((j) => j.data.transaction_type === 'exchange').length,
      cashInNtd: e.truth.billsNtd + e.truth.coinsNtd,
    },
    coins: {
      dispensed: e.counters.total_dispensed,
      remote: e.counters.remote_dispensed,
      bonus: e.counters.bonus_coins,
      debtOutstanding: e.counters.debt_coins,
      refilled: e.truth.refilled,
      inventoryEnd: e.truth.inventory,
      hopperEmptyEpisodes: [...unique.values()].filter((r) => r.type === 'error' && r.payload.data?.error_code === 42 && r.payload.data?.state === 'raised').length,
    },
    commands: {
      sent: tally(i.commandsSent, (c) => c.type),
      publishes: i.commandsSent.reduce((s, c) => s + c.sends, 0),
      answered: results.length,
      outcomes: tally(results, outcomeOf),
      list,
      unansweredInCalm: list.filter((c) => c.result === null && c.faultsAround?.length === 0).length,
    },
    messages: {
      device: { publishedByType: publishedByType(i.metrics), delivery: e.delivery },
      cloud: {
        received: i.received.length,
        receivedByType: tally(i.received, (r) => r.type),
        uniqueByType: tally([...unique.values()], (r) => r.type),
        duplicates: tracked.length - new Set(tracked.map((r) => r.payload.message_id)).size,
      },
    },
    overflow: {
      droppedCounted: e.delivery.dropped,
      droppedLogged: i.dropped.length,
      droppedByType: tally(i.dropped, (d) => d.type),
      missingBeforeReplay: i.replay.missing.length,
      recoveredByReplay: i.replay.recovered.length,
      queries: i.replay.queries,
    },
    settle: i.settle,
    failedJobs: i.failedJobs,
    checks: i.checks,
    violations,
    keptDir: null,
  };
}

const outcomeOf = (c: Evidence['commands'][number]): string =>
  `${c.type} ${c.results[0]!.status === 'success' ? 'success' : String(c.results[0]!.result.error_code ?? 'failed')}`;

/** Faults that were under way from 15 s before `at` (recovery included) to 3 s after it. */
const faultsAround = (faults: readonly FaultRecord[], at: number): string[] =>
  faults.filter((f) => f.at <= at + 3_000 && f.at + f.tookMs + 15_000 >= at).map((f) => `${f.kind}${f.app ? ` ${f.app}` : ''} at ${(f.at / 1000).toFixed(1)} s`);

const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

export function formatReport(r: ChaosReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  const d = r.messages.device.delivery;
  const lines = [
    `Chaos run: seed ${r.seed}, ${r.minutes} min of chaos, device ${r.deviceId} (startup ${s(r.timing.startup)}, chaos ${s(r.timing.chaos)}, settle ${s(r.timing.settle)}, total ${s(r.timing.total)})`,
    `Redis: ${r.redis.conf}; ${Object.entries(r.redis.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `Faults injected: ${r.faults.injected} (${kv(r.faults.byKind)}); skipped ${r.faults.skipped}, failed ${r.faults.errors}`,
    `  by app: ${kv(r.faults.byApp)}; aimed at a payout in flight ${r.faults.midPayout.aimed}, struck mid-payout ${r.faults.midPayout.hit}`,
    `Exchanges: ${r.exchanges.accepted} accepted of ${r.exchanges.offered} offered (the rest handed back: acceptors off while locked, faulted, empty or open; ${r.exchanges.notQueued} more not handed over: Redis down), ${r.exchanges.cashInNtd} NTD taken in`,
    `Coins: ${r.coins.dispensed} paid out (remote ${r.coins.remote}, bonus ${r.coins.bonus}), ${r.coins.refilled} refilled, ${r.coins.inventoryEnd} left, debt ${r.coins.debtOutstanding}; hopper-empty episodes ${r.coins.hopperEmptyEpisodes}`,
    `Commands: sent ${kv(r.commands.sent)} in ${r.commands.publishes} publishes; answered ${r.commands.answered}: ${kv(r.commands.outcomes)}; unanswered with no fault near ${r.commands.unansweredInCalm}`,
    `Device sent: ${kv(r.messages.device.publishedByType)}; acked ${d.acked}, retransmits ${d.retransmits}, superseded ${d.superseded}, dropped ${d.dropped}, given up ${d.giveups}, skipped offline ${d.skipped}`,
    `Cloud received: ${r.messages.cloud.received} (${kv(r.messages.cloud.uniqueByType)} distinct); duplicates of ACK-required messages ${r.messages.cloud.duplicates}`,
    `Overflow: ${r.overflow.droppedCounted} dropped (${r.overflow.droppedLogged} logged: ${kv(r.overflow.droppedByType)}); ${r.overflow.missingBeforeReplay} journal entries missing at the cloud, ${r.overflow.recoveredByReplay} recovered by ${r.overflow.queries.length} transactions queries`,
    `Settle: ${r.settle.settled ? 'at rest' : 'NOT at rest'} after ${s(r.settle.tookMs)}${r.settle.restored.length > 0 ? ` (restored: ${[...new Set(r.settle.restored)].join(', ')})` : ''}`,
    `Failed jobs kept: ${kv(Object.fromEntries(Object.entries(r.failedJobs).filter(([, n]) => n > 0)))}`,
    `Checks: ${r.checks.length}, violations: ${r.violations.length}`,
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} [${c.invariant}] ${c.name}: ${c.detail}`),
    r.ok ? 'RESULT: every invariant held' : `RESULT: ${r.violations.length} VIOLATION(S); reproduce with --seed ${r.seed} --minutes ${r.minutes} --faults-per-minute ${r.faultsPerMinute}`,
  ];
  if (r.keptDir) lines.push(`Kept for inspection: ${r.keptDir} (pm2-logs/, Redis AOF)`);
  return lines.join('\n');
}
