/**
 * Crash-point exploration (docs/durability.md "Crash points"): for a money
 * path, record the durable Redis writes each app makes while the path runs
 * (shared/crash-point.ts), then for each write k of each app run the path
 * again with that app told to SIGKILL itself right before — and, separately,
 * right after — write k; restart it, let the machine settle and check every
 * invariant of the chaos suite, plus no job parked in a failed set. A
 * violation restarts the rig from scratch so it does not colour later points.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInvariants, type Check } from '../../chaos/invariants.js';
import { gatherEvidence } from '../../chaos/evidence.js';
import { defaultOptions } from '../../chaos/options.js';
import { startChaosRig, type Rig } from '../../chaos/rig.js';
import { settle, unmetConditions } from '../../chaos/settle.js';
import { Worker } from 'bullmq';
import { queueNames, workerConnection, type QueueName } from '../../queue/index.js';
import { waitFor } from '../helpers/env.js';
import { startChildren, type ChildStack } from './children.js';
import type { MoneyPath } from './paths.js';

/** The apps that own money-path writes. */
export const ownerApps = ['hardware', 'business', 'mqtt'] as const;
export type OwnerApp = (typeof ownerApps)[number];

export interface Write {
  app: OwnerApp;
  /** 1-based position in the app's sequence for the path. */
  k: number;
  sig: string;
  cmd: string;
  script: string;
  key: string;
  /** Occurrence of `sig` up to and including this write (what the hook counts with COINEREX_CRASH_MATCH). */
  occurrence: number;
}

/** A path's writes in order per app, and how long the path took. */
export interface Recording {
  writes: Write[];
  ms: number;
}

export interface PointResult {
  path: string;
  app: OwnerApp;
  k: number;
  when: 'before' | 'after';
  write: Pick<Write, 'cmd' | 'script' | 'key'>;
  /** false: the app never reached the write in this run (timing added or removed writes). */
  reached: boolean;
  settled: boolean;
  violations: Array<Pick<Check, 'invariant' | 'name' | 'detail'>>;
  /** The harness could not run the point (a setup that failed): neither passed nor violated. */
  error?: string;
  ms: number;
  /** ms spent in each phase of the run. */
  phases: Record<string, number>;
}

export interface PathResult {
  path: string;
  writes: Record<OwnerApp, number>;
  /** The recorded writes in order per app, `<app>:<k> <cmd> <script> <key>`, to read a point's neighbours. */
  sequence: string[];
  points: PointResult[];
}

/** Which points to run of a path's writes: all, or a few chosen by position. */
export type Selection = (writes: readonly Write[]) => Array<{ write: Write; when: 'before' | 'after' }>;

export const everyPoint: Selection = (writes) => writes.flatMap((write) => [{ write, when: 'before' as const }, { write, when: 'after' as const }]);

/**
 * The short tier: `count` writes spread evenly over the path's sequence (all
 * apps, in order), before and after in turn from `phase` — the same writes
 * every time a path records the same sequence.
 */
export const spread = (count: number, phase = 0): Selection => (writes) => {
  const picked = new Map<number, 'before' | 'after'>();
  for (let j = 0; j < Math.min(count, writes.length); j++) picked.set(Math.floor(((j + 0.5) * writes.length) / count), (j + phase) % 2 === 0 ? 'before' : 'after');
  return [...picked].map(([i, when]) => ({ write: writes[i]!, when }));
};

const SETTLE_MS = 120_000;

/** The queues each app consumes (docs/architecture.md "Queues"). */
const consumed: Record<OwnerApp, QueueName[]> = {
  hardware: [queueNames.hwCommands, queueNames.control],
  business: [queueNames.hwEvents, queueNames.commands, queueNames.businessSchedule],
  mqtt: [queueNames.outbox],
};

/**
 * What BullMQ does for a killed worker after its lock expires (30 s) and two
 * stalled-job checks (another 30 s), done at once: the dead process's job
 * locks are removed, then two checks move its jobs back to wait. Call it
 * while `app` is dead, before it restarts, so no live lock is touched.
 */
async function releaseDeadLocks(rig: Rig, app: OwnerApp): Promise<string[]> {
  const prefix = rig.env.keys.bullPrefix;
  const released: string[] = [];
  for (const q of consumed[app]) {
    for (const id of await rig.db.lrange(`${prefix}:${q}:active`, 0, -1)) {
      if ((await rig.db.del(`${prefix}:${q}:${id}:lock`)) > 0) released.push(`${q}:${id}`);
    }
  }
  return released;
}

async function moveStalled(rig: Rig, app: OwnerApp): Promise<void> {
  const connection = workerConnection(rig.redis.url, 'crashpoints:stalled');
  try {
    for (const q of consumed[app]) {
      const w = new Worker(q, null, { connection, prefix: rig.env.keys.bullPrefix, autorun: false });
      try {
        await w.waitUntilReady();
        // The first check marks what is active, the second moves what is still unlocked; the
        // throttle key (set by the app's own check at its start) would skip them.
        for (let pass = 0; pass < 2; pass++) {
          await rig.db.del(`${rig.env.keys.bullPrefix}:${q}:stalled-check`);
          await (w as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
        }
      } finally {
        await w.close();
      }
    }
  } finally {
    connection.disconnect();
  }
}
const noReplay = { missing: [], recovered: [], queries: [] };

export class Explorer {
  private rig: Rig | null = null;
  private stack: ChildStack | null = null;
  private runs = 0;
  private traces = '';

  constructor(
    private readonly say: (line: string) => void,
    private readonly seed: number,
  ) {}

  private async ensureRig(): Promise<{ rig: Rig; stack: ChildStack }> {
    if (this.rig && this.stack) return { rig: this.rig, stack: this.stack };
    let stack: ChildStack | null = null;
    const traces = await mkdtemp(join(tmpdir(), 'coinerex-traces-'));
    const rig = await startChaosRig({ ...defaultOptions, seed: this.seed, logLevel: 'info', initialInventory: 400 }, this.say, {
      apps: ownerApps,
      startApps: async (apps, env) => (stack = await startChildren(apps, env)),
      env: {
        // Nothing periodic during a path: no heartbeat or status timer adds writes.
        COINEREX_HEARTBEAT_SECONDS: '3600',
        COINEREX_STATUS_SECONDS: '3600',
        COINEREX_SIM_PAYOUT_MS: '2',
        // A payout lost with the board's power is asked about after 5 s, not 30: the unknown-outcome paths wait for it at every point.
        COINEREX_PAYOUT_STUCK_SECONDS: '5',
        // Each app writes what it does while armed to <dir>/<app>.jsonl.
        COINEREX_CRASH_TRACE: traces,
      },
    });
    this.traces = traces;
    this.rig = rig;
    this.stack = stack!;
    return { rig, stack: stack! };
  }

  private async resetRig(): Promise<void> {
    const rig = this.rig;
    this.rig = null;
    this.stack = null;
    await rig?.close(false);
    if (this.traces) await rm(this.traces, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await this.resetRig();
  }

  /** Waits until the machine is at rest without restoring anything (a path's setup may leave debt). */
  private async atRest(rig: Rig, timeoutMs = SETTLE_MS): Promise<void> {
    const s = await settle(rig, this.seed, timeoutMs, async () => 0);
    if (!s.settled) throw new Error(`the machine did not come to rest: ${s.unmet.join('; ')}`);
  }

  /** Runs the path once with every owner app tracing its writes; returns them in order per app. */
  async record(path: MoneyPath): Promise<Recording> {
    const { rig, stack } = await this.ensureRig();
    const n = ++this.runs;
    await this.atRest(rig);
    await path.setup?.(rig, n);
    const files = Object.fromEntries(ownerApps.map((a) => [a, join(this.traces, `${a}.jsonl`)])) as Record<OwnerApp, string>;
    await Promise.all(ownerApps.flatMap((a) => [rm(files[a], { force: true }), rm(join(this.traces, `${a}.arm`), { force: true })]));
    await this.quiet(rig, path);
    for (const a of ownerApps) stack.signal(a, 'SIGUSR2');
    const t0 = Date.now();
    await path.trigger(rig, n);
    await this.pathDone(path, n);
    await this.atRest(rig);
    const ms = Date.now() - t0;
    const writes: Write[] = [];
    for (const app of ownerApps) {
      const lines = (await readFile(files[app], 'utf8').catch(() => '')).split('\n').filter(Boolean);
      const occurrences = new Map<string, number>();
      lines.forEach((line, i) => {
        const w = JSON.parse(line) as { sig: string; cmd: string; script: string; key: string };
        const occurrence = (occurrences.get(w.sig) ?? 0) + 1;
        occurrences.set(w.sig, occurrence);
        writes.push({ app, k: i + 1, sig: w.sig, cmd: w.cmd, script: w.script, key: w.key, occurrence });
      });
    }
    await this.failIfViolated(rig, path, n);
    return { writes, ms };
  }

  /** The recording run must itself be clean, or every point would inherit its violation. */
  private async failIfViolated(rig: Rig, path: MoneyPath, n: number): Promise<void> {
    const v = await this.violations(rig, path, n);
    if (v.length > 0) throw new Error(`the path ${path.name} violates invariants without any crash: ${v.map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
  }

  /** Waits for the path's own late step, if it has one; its checks say whether it came. */
  private async pathDone(path: MoneyPath, n: number): Promise<void> {
    if (!path.done) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([path.done(n), new Promise((r) => (timer = setTimeout(r, SETTLE_MS)))]);
    clearTimeout(timer);
  }

  /** Waits until nothing is in flight other than what the path's setup left on purpose. */
  private async quiet(rig: Rig, path: MoneyPath): Promise<void> {
    // A setup that leaves debt also leaves error 42 (critical) and maybe a refill-worthy hopper: only flows in flight count.
    const inFlight = (u: string) => !/^critical errors|^simulator faults/.test(u);
    await waitFor(async () => (await unmetConditions(rig)).filter(path.setup ? inFlight : () => true).length === 0, SETTLE_MS, 'the machine at rest before the path', 200);
  }

  async explorePoint(path: MoneyPath, write: Write, when: 'before' | 'after', pathMs: number): Promise<PointResult> {
    const t0 = Date.now();
    const { rig, stack } = await this.ensureRig();
    const n = ++this.runs;
    const result: PointResult = {
      path: path.name,
      app: write.app,
      k: write.k,
      when,
      write: { cmd: write.cmd, script: write.script, key: write.key },
      reached: false,
      settled: false,
      violations: [],
      ms: 0,
      phases: {},
    };
    const phase = (name: string) => {
      result.phases[name] = Date.now() - t0 - Object.values(result.phases).reduce((a, b) => a + b, 0);
    };
    try {
      await path.setup?.(rig, n);
      phase('setup');
      // The app reads the point at SIGUSR2 (shared/crash-point.ts): no restart needed to move it.
      const arm = join(this.traces, `${write.app}.arm`);
      await writeFile(arm, `${write.app}:${write.occurrence}:${when}\n${write.sig}`);
      phase('arm');
      await this.quiet(rig, path);
      stack.signal(write.app, 'SIGUSR2');
      const died = stack.exited(write.app).then(() => true);
      await path.trigger(rig, n);
      // The path took pathMs when recorded; a point it does not reach in several times that is not in this run.
      result.reached = await Promise.race([died, new Promise<boolean>((r) => setTimeout(() => r(false), 3 * pathMs + 10_000))]);
      await rm(arm);
      phase('crash');
      if (result.reached) {
        await releaseDeadLocks(rig, write.app);
        await stack.start(write.app);
        await moveStalled(rig, write.app);
      } else {
        // Still armed: disarm by a restart.
        await stack.start(write.app);
      }
      phase('restart');
      await this.pathDone(path, n);
      phase('done');
      const settled = await settle(rig, this.seed, SETTLE_MS, async () => 0);
      result.settled = settled.settled;
      phase('settle');
      result.violations = await this.violations(rig, path, n, settled);
      phase('check');
    } catch (err) {
      result.error = err instanceof Error ? err.message : String(err);
    }
    result.ms = Date.now() - t0;
    if (result.violations.length > 0 || result.error) await this.resetRig();
    return result;
  }

  private async violations(rig: Rig, path: MoneyPath, n: number, settled?: Awaited<ReturnType<typeof settle>>): Promise<Check[]> {
    const s = settled ?? { settled: true, tookMs: 0, unmet: [], restored: [] };
    const { evidence } = await gatherEvidence(rig, s, noReplay);
    const checks = checkInvariants(evidence);
    const failed = Object.fromEntries(await Promise.all(Object.entries(rig.queues).map(async ([name, q]) => [name, await q.getFailedCount()] as const)));
    const parked = Object.entries(failed).filter(([, c]) => c > 0);
    checks.push({ invariant: 'rest', name: 'no job parked in a failed set', ok: parked.length === 0, detail: parked.length === 0 ? 'none' : parked.map(([q, c]) => `${q}: ${c}`).join(', ') });
    checks.push(...((await path.checks?.(rig, n)) ?? []));
    return checks.filter((c) => !c.ok);
  }

  /** `progress` sees the path's result after every point (the runner writes it out, so an interrupted run keeps what it found). */
  /** `recording`: the path's writes recorded by another run (side-by-side runs then share one sequence). */
  async explorePath(path: MoneyPath, select: Selection, progress: (r: PathResult) => void = () => undefined, recording?: Recording): Promise<PathResult> {
    const { writes, ms } = recording ?? (await this.record(path));
    const counts = Object.fromEntries(ownerApps.map((a) => [a, writes.filter((w) => w.app === a).length])) as Record<OwnerApp, number>;
    this.say(`${path.name}: ${writes.length} writes recorded in ${ms} ms (${ownerApps.map((a) => `${a} ${counts[a]}`).join(', ')})`);
    const points: PointResult[] = [];
    const sequence = writes.map((w) => `${w.app}:${w.k} ${w.cmd} ${w.script} ${w.key}`);
    for (const { write, when } of select(writes)) {
      const p = await this.explorePoint(path, write, when, ms);
      points.push(p);
      progress({ path: path.name, writes: counts, sequence, points });
      const verdict = p.error ? `ERROR: ${p.error}` : p.violations.length > 0 ? `VIOLATION: ${p.violations.map((v) => `${v.name} (${v.detail})`).join('; ')}` : p.reached ? 'ok' : 'not reached';
      this.say(`${path.name} ${p.app}:${p.k}:${p.when} ${p.write.cmd} ${p.write.script} ${p.write.key} → ${verdict} (${(p.ms / 1000).toFixed(1)} s: ${Object.entries(p.phases).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')})`);
    }
    return { path: path.name, writes: counts, sequence, points };
  }
}
