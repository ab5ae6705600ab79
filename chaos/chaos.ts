/**
 * One chaos run (all five docs/architecture.md#money-safety-invariants under injected faults): plan from the seed, start the rig, play the
 * workload while injecting faults, let the system settle, recover what the
 * cloud missed with transactions queries, gather the evidence and check
 * every money-safety invariant. Returns the report; the caller prints it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { checkInvariants } from './invariants.js';
import { gatherEvidence } from './evidence.js';
import { Injector } from './injector.js';
import type { ChaosOptions } from './options.js';
import { makePlan } from './plan.js';
import { buildReport, type ChaosReport } from './report.js';
import { replayMissing } from './replay.js';
import { startChaosRig } from './rig.js';
import { settle } from './settle.js';
import { Workload } from './workload.js';

/** How long the cloud waits for each transactions query to be answered and replayed. */
const REPLAY_TIMEOUT_MS = 30_000;

const until = (at: number, signal?: AbortSignal) => sleep(Math.max(0, at - Date.now()), undefined, { signal });

export async function runChaos(o: ChaosOptions, say: (line: string) => void, signal?: AbortSignal): Promise<ChaosReport> {
  const t0 = Date.now();
  const plan = makePlan(o);
  say(`seed ${o.seed}: ${plan.work.length} actions and ${plan.faults.length} faults planned over ${o.minutes} min`);
  const rig = await startChaosRig(o, say);
  let keep = o.keep;
  try {
    const chaosStart = Date.now();
    const workload = new Workload(rig, o.seed);
    const injector = new Injector(rig, workload, o.seed, chaosStart, say);
    const work = (async () => {
      const inFlight = new Set<Promise<void>>();
      for (const item of plan.work) {
        await until(chaosStart + item.at, signal);
        const p: Promise<void> = workload.run(item.action).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    })();
    // Every planned fault is injected, even when earlier ones ran late: the long run promises its count.
    const faults = (async () => {
      for (const f of plan.faults) {
        await until(chaosStart + f.at, signal);
        await injector.inject(f.action);
      }
    })();
    await Promise.all([work, faults]);
    const chaosMs = Date.now() - chaosStart;
    say(`chaos phase over after ${(chaosMs / 1000).toFixed(0)} s; settling`);

    const settled = await settle(rig, o.seed, o.settleSeconds * 1000, () => injector.restartsPending());
    say(settled.settled ? `at rest after ${(settled.tookMs / 1000).toFixed(0)} s` : `not at rest after ${o.settleSeconds} s: ${settled.unmet.join('; ')}`);
    const replay = await replayMissing(rig, o.seed, REPLAY_TIMEOUT_MS);
    if (replay.missing.length > 0) say(`${replay.missing.length} journal entries missing at the cloud; ${replay.recovered.length} recovered by ${replay.queries.length} transactions queries`);
    const { evidence, dropped } = await gatherEvidence(rig, settled, replay);
    const report = buildReport({
      seed: o.seed,
      minutes: o.minutes,
      faultsPerMinute: o.faultsPerMinute,
      deviceId: rig.env.deviceId,
      startedAt: t0,
      chaosStart,
      timing: { startup: chaosStart - t0, chaos: chaosMs, settle: settled.tookMs, total: Date.now() - t0 },
      redis: { conf: rig.redis.confSource, settings: await rig.redis.settings() },
      faults: injector.records,
      workload: workload.counts,
      evidence,
      checks: checkInvariants(evidence),
      received: rig.peer.received,
      commandsSent: [...rig.commands.sent.values()],
      metrics: await rig.db.hgetall(rig.env.keys.metrics),
      dropped,
      replay,
      settle: settled,
      failedJobs: Object.fromEntries(await Promise.all(Object.entries(rig.queues).map(async ([name, q]) => [name, await q.getFailedCount()] as const))),
    });
    keep ||= !report.ok;
    report.keptDir = await rig.close(keep);
    report.timing.total = Date.now() - t0;
    return report;
  } catch (err) {
    // A run that broke down is worth a look: keep its logs.
    keep = true;
    throw err;
  } finally {
    await rig.close(keep);
  }
}
