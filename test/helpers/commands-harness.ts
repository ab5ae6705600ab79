/**
 * Shared set-up of the command pipeline tests: real Redis and BullMQ under a
 * per-test prefix, the real verification pool, and a minimal MachinePort
 * (TestMachine) that keeps the interface's promises (a remote dispense pays
 * at most once per command id; the MachinePort contract suite,
 * test/helpers/machine-port-contract.ts, runs against it and the real machine). The same pipeline runs against the real
 * business app in test/e2e/commands-*.test.ts.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { systemClock, type Clock } from '../../shared/clock.js';
import { signCommand } from '../../shared/command-signature.js';
import type { RuntimeSettings } from '../../shared/config.js';
import { CommandError } from '../../shared/errors.js';
import type { MachineSnapshot } from '../../shared/machine-state.js';
import type { CommandResult, Envelope } from '../../shared/messages.js';
import { redisMetrics } from '../../shared/metrics.js';
import { topics } from '../../shared/topics.js';
import { makeQueue } from '../../queue/connection.js';
import type { CommandJob, OutboxJob } from '../../queue/jobs.js';
import { queueNames } from '../../queue/names.js';
import type { CommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { commandProcessor, type CommandProcessor, type ProcessOutcome } from '../../workers/business/commands/pipeline.js';
import type { DoubtDecision, DoubtResolution } from '../../workers/business/exchange/doubt.js';
import type { JournalQuery, LockRequest, MachinePort, RemoteDispenseOutcome, RemoteDispenseRequest } from '../../workers/business/machine/machine-port.js';
import { makeLogger } from '../../shared/logger.js';
import { cleanupRedis, REDIS_URL, testEnv, type TestEnv } from './env.js';
import { machineSnapshot } from './snapshot.js';

export class TestMachine implements MachinePort {
  state: MachineSnapshot = machineSnapshot({ inventory: 1000 });
  /** Coins that physically left the hopper. */
  paid = 0;
  dispenseCalls = 0;
  readonly outcomes = new Map<string, RemoteDispenseOutcome>();
  readonly locks: LockRequest[] = [];
  readonly applied: RuntimeSettings[] = [];
  readonly published = { accounting: 0, status: 0 };
  journal: Envelope[] = [];
  /** Resolves whenIdle(); tests replace it to hold a restart back. */
  idle: Promise<void> = Promise.resolve();
  private seq = 0;

  async snapshot(): Promise<MachineSnapshot> {
    return structuredClone(this.state);
  }

  async remoteDispense(req: RemoteDispenseRequest): Promise<RemoteDispenseOutcome> {
    this.dispenseCalls++;
    const earlier = this.outcomes.get(req.commandId);
    if (earlier) return earlier;
    if (this.state.locked) throw new CommandError('MACHINE_LOCKED');
    const coins = Math.min(req.coins, this.state.inventory);
    this.state.inventory -= coins;
    this.paid += coins;
    const outcome: RemoteDispenseOutcome = {
      success: coins === req.coins,
      coinsDispensed: coins,
      coinsUnpaid: req.coins - coins,
      coinsRemaining: this.state.inventory,
      transactionId: `REMOTE_20250912_103000_${String(++this.seq).padStart(3, '0')}`,
      executionTimeMs: 7,
    };
    this.outcomes.set(req.commandId, outcome);
    return outcome;
  }

  readonly decisions: DoubtDecision[] = [];

  async decideDoubt(decision: DoubtDecision): Promise<DoubtResolution> {
    this.decisions.push(decision);
    const inDoubt = this.state.counters.debt_coins;
    const writtenOff = decision.choice === 'paid' ? inDoubt : 0;
    this.state.counters.debt_coins -= writtenOff;
    this.state.activeErrors = this.state.activeErrors.filter((c) => c !== 51);
    return { choice: decision.choice, coinsInDoubt: inDoubt, debtWrittenOff: writtenOff, debtToPay: decision.choice === 'not_paid' ? inDoubt : 0, debtAfter: this.state.counters.debt_coins };
  }

  async dispenseQueued(commandId: string): Promise<boolean> {
    return this.outcomes.has(commandId);
  }

  async setLock(req: LockRequest): Promise<void> {
    this.locks.push(req);
    this.state.locked = req.locked;
    this.state.lockUntil = req.until;
  }

  whenIdle(): Promise<void> {
    return this.idle;
  }

  async publishAccounting(): Promise<void> {
    this.published.accounting++;
  }

  async publishStatus(): Promise<void> {
    this.published.status++;
  }

  async applySettings(settings: RuntimeSettings): Promise<void> {
    this.applied.push(settings);
  }

  async readJournal(q: JournalQuery): Promise<Envelope[]> {
    const at = (e: Envelope) => (e.timestamp as number) * 1000;
    return this.journal.filter((e) => (q.since === null || at(e) >= q.since) && (q.until === null || at(e) <= q.until)).slice(0, q.limit);
  }
}

export interface CommandsHarness {
  env: TestEnv;
  redis: Redis;
  outbox: Queue<OutboxJob>;
  machine: TestMachine;
  processor: CommandProcessor;
  topic(type: string): string;
  /** A command job as the mqtt app enqueues it. */
  job(type: string, body: unknown, bytes?: number): CommandJob;
  run(type: string, body: unknown, bytes?: number): Promise<ProcessOutcome>;
  /** Every outbox job so far, oldest first. */
  outboxJobs(): Promise<OutboxJob[]>;
  results(): Promise<CommandResult[]>;
  metric(field: string): Promise<number>;
  close(): Promise<void>;
}

let jobSeq = 0;

export async function commandsHarness(verifier: CommandVerifier, opts: { env?: Record<string, string>; clock?: Clock; resultWaitMs?: number } = {}): Promise<CommandsHarness> {
  const env = testEnv({ COINEREX_LOG_LEVEL: 'silent', ...opts.env });
  const redis = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
  const outbox = makeQueue<OutboxJob>(queueNames.outbox, redis, env.keys.bullPrefix);
  const machine = new TestMachine();
  const log = makeLogger('test', env.config.logLevel, false);
  const metrics = redisMetrics(redis, env.keys);
  const processor = commandProcessor({
    config: env.config,
    log,
    keys: env.keys,
    redis,
    machine,
    outbox,
    clock: opts.clock ?? systemClock,
    metrics,
    verifier,
    resultWaitMs: opts.resultWaitMs,
  });
  const t = topics(env.config.topicPrefix, env.deviceId);
  const h: CommandsHarness = {
    env,
    redis,
    outbox,
    machine,
    processor,
    topic: (type) => t.command(type),
    job: (type, body, bytes) => ({
      topic: t.command(type),
      commandType: type,
      receivedAt: Date.now(),
      bytes: bytes ?? Buffer.byteLength(JSON.stringify(body) ?? ''),
      body,
    }),
    run: (type, body, bytes) => processor.process(h.job(type, body, bytes), `job-${++jobSeq}`),
    async outboxJobs() {
      const jobs = await outbox.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized']);
      return jobs.sort((a, b) => Number(a.id) - Number(b.id)).map((j) => j.data);
    },
    async results() {
      return (await h.outboxJobs()).flatMap((j) => (j.kind === 'command_result' ? [j.result] : []));
    },
    async metric(field) {
      await metrics.flush();
      return Number((await redis.hget(env.keys.metrics, field)) ?? 0);
    },
    async close() {
      await processor.close();
      await metrics.close();
      await outbox.close();
      redis.disconnect();
      await cleanupRedis(env.prefix);
    },
  };
  return h;
}

export function keyPair(): { publicKeyPem: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

/** `body` with a signature for `topic` (and a fresh timestamp unless it has one). */
export function signed(topic: string, body: Record<string, unknown>, privateKey: KeyObject): Record<string, unknown> {
  const command = { timestamp: Math.floor(Date.now() / 1000), ...body };
  return { ...command, signature: signCommand(topic, command, privateKey) };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
