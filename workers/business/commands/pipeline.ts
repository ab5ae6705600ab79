/**
 * The command pipeline for one command job (docs/protocol.md#7-commands), in order:
 * size/shape limits → identical repeat of a handled command (its stored
 * result, nothing verified or executed) → validation and authentication
 * (verification pool) → repeat check → expiry → atomic claim of the
 * command_id → preconditions and execution (one handler per type) → stored
 * result → result published when requires_ack (absent counts as true). Every
 * refusal carries a CommandError code and is answered whenever the command_id
 * is readable and an ACK was asked for, except BUSY for an id already claimed
 * (that id's answer is its original result, which BUSY would contradict) and
 * UNAUTHENTICATED beyond COINEREX_UNAUTHENTICATED_ANSWER_RATE (answer-limit.ts).
 * Refusals before the claim are not recorded, so a forged or malformed
 * message can never use up a genuine command's id.
 */
import { formatTimestamp } from '../../../shared/clock.js';
import { CommandError, type CommandErrorCode } from '../../../shared/errors.js';
import type { CommandResult } from '../../../shared/messages.js';
import { readRuntimeSettings } from '../../../shared/runtime-settings.js';
import { commandTypes } from '../../../shared/topics.js';
import type { CommandJob } from '../../../queue/jobs.js';
import type { CommandVerifier } from './auth/pool.js';
import { answerLimit } from './answer-limit.js';
import type { CommandPipelineDeps } from './deps.js';
import { commandDigest } from './digest.js';
import { deadlineOf, expiryError } from './expiry.js';
import type { HandlerContext, HandlerOutcome } from './handlers/context.js';
import { dispatch } from './handlers/index.js';
import { readableCommandId, shapeProblem, wantsResult } from './limits.js';
import type { Command } from './parse.js';
import { commandRegistry } from './registry.js';
import { buildResult, publishResult, waitProcessed } from './results.js';

export interface ProcessorDeps extends CommandPipelineDeps {
  verifier: CommandVerifier;
  /** How long a restart waits for the mqtt app to publish its result before going ahead, ms. Default 5000. */
  resultWaitMs?: number;
}

export type ProcessOutcome =
  | { outcome: 'success' | 'failed' | 'duplicate'; commandId: string; result: CommandResult }
  | { outcome: 'refused'; code: CommandErrorCode; commandId: string | null; result: CommandResult | null };

export interface CommandProcessor {
  process(job: CommandJob, jobId: string): Promise<ProcessOutcome>;
  /**
   * Steps 1–3 only (limits, stored answer, validation and signature): the
   * outcome when they settle the command (refusal or stored answer, answered
   * as `process` would), null when it goes on to `process` (verified, or
   * verification unavailable, which `process` decides on).
   */
  screen(job: CommandJob): Promise<ProcessOutcome | null>;
  /** Aborts post-result work still pending (a delayed restart) and waits briefly for it. */
  close(): Promise<void>;
}

/** Metric label for a command type: only known types, so hostile topics cannot grow the label set. */
const typeLabel = (t: string): string => ((commandTypes as readonly string[]).includes(t) ? t : 'unknown');

export function commandProcessor(deps: ProcessorDeps): CommandProcessor {
  const { config, log, keys, redis, outbox, clock, metrics, verifier } = deps;
  const registry = commandRegistry(redis, keys);
  const resultCtx = { deviceId: config.deviceId, timestampFormat: config.timestampFormat, clock };
  const shutdown = new AbortController();
  const pending = new Set<Promise<void>>();
  const unauthenticatedAnswers = answerLimit(config.unauthenticatedAnswerRate, clock, log, metrics);

  const count = (type: string, outcome: string) => metrics.incr('commands_total', { type: typeLabel(type), outcome });

  /** Commands executing in this process by id: the dispense lane and the other lane never run one id twice at once. */
  const running = new Map<string, Promise<ProcessOutcome>>();

  const handlerContext = (command: Command, job: CommandJob, resumed: boolean): HandlerContext => ({
    ...deps,
    settings: () => readRuntimeSettings(redis, keys, config),
    timestamp: (ms) => formatTimestamp(ms, config.timestampFormat),
    resumed,
    // A new command passed the expiry check before its claim; a resumed one is checked again here.
    expired: resumed ? expiryError(command, job.receivedAt, clock.now(), config.commandMaxAgeSeconds) : null,
    deadline: deadlineOf(command, job.receivedAt, config.commandTimeoutSeconds),
  });

  async function execute(command: Command, job: CommandJob, resumed: boolean): Promise<HandlerOutcome> {
    try {
      return await dispatch(command, handlerContext(command, job, resumed));
    } catch (err) {
      if (err instanceof CommandError) return { status: 'failed', result: err.toResult() };
      log.error({ err, commandId: command.command_id }, 'command failed unexpectedly');
      return { status: 'failed', result: new CommandError('HARDWARE_FAILURE', `outcome uncertain: ${(err as Error).message}`).toResult() };
    }
  }

  /** Runs `after` once the result is out (or the wait is over), outside the job so the queue keeps moving. */
  function startAfter(after: NonNullable<HandlerOutcome['after']>, published: Awaited<ReturnType<typeof publishResult>> | null): void {
    const task = (async () => {
      if (published && !(await waitProcessed(published, deps.resultWaitMs ?? 5_000, shutdown.signal))) {
        if (shutdown.signal.aborted) return;
        log.warn({ jobId: published.id }, 'command result not yet published by the mqtt app; going ahead');
      }
      await after(shutdown.signal);
    })()
      .catch((err: unknown) => {
        if (!shutdown.signal.aborted) log.error({ err }, 'post-result step of a command failed');
      })
      .finally(() => pending.delete(task));
    pending.add(task);
  }

  /**
   * A byte-for-byte copy of a handled command (same digest as the original's
   * record) gets the stored result. It is not verified, so it only reads: no
   * coin moves and no state changes, and a changed payload under a used id is
   * not recognised here but verified as any other message.
   */
  async function storedAnswer(commandId: string, digest: string | null, body: unknown): Promise<ProcessOutcome | null> {
    if (digest === null) return null;
    const record = await registry.lookup(commandId);
    if (record?.state !== 'done' || record.digest !== digest) return null;
    log.info({ commandId }, 'repeated command: answered from its stored result');
    count(record.result.command_type, 'duplicate');
    if (wantsResult(body)) await publishResult(outbox, record.result);
    return { outcome: 'duplicate', commandId, result: record.result };
  }

  /** BUSY for a claimed id is not answered: the original's result (stored, or published when its run ends) is the answer. */
  function unanswered(commandId: string, job: CommandJob, detail: string): ProcessOutcome {
    log.info({ commandId, topic: job.topic, detail }, 'repeat of a claimed command not verified (pool busy): not answered, its original result stands');
    count(job.commandType, 'BUSY');
    return { outcome: 'refused', code: 'BUSY', commandId, result: null };
  }

  type Refuse = (error: CommandError) => Promise<ProcessOutcome>;
  /** A command past steps 1–3, with what the later steps need. */
  interface Admitted {
    command: Command;
    digest: string | null;
    refuse: Refuse;
  }

  /** Steps 1–3: a settled outcome, the verified command, or null when verification is unavailable and `busy` is 'defer'. */
  function admit(job: CommandJob, busy: 'answer'): Promise<ProcessOutcome | Admitted>;
  function admit(job: CommandJob, busy: 'defer'): Promise<ProcessOutcome | Admitted | null>;
  async function admit(job: CommandJob, busy: 'answer' | 'defer'): Promise<ProcessOutcome | Admitted | null> {
    const commandId = readableCommandId(job.body);
    const refuse: Refuse = async (error) => {
      count(job.commandType, error.code);
      // Beyond its rate a bad signature gets neither an answer nor a log line of its own: a forgery must not buy a message.
      if (error.code === 'UNAUTHENTICATED' && !unauthenticatedAnswers.take()) return { outcome: 'refused', code: error.code, commandId, result: null };
      const level = error.code === 'UNAUTHENTICATED' ? 'warn' : 'info';
      log[level]({ commandId, topic: job.topic, code: error.code, detail: error.message }, 'command refused');
      let result: CommandResult | null = null;
      if (commandId !== null && wantsResult(job.body)) {
        result = buildResult(resultCtx, commandId, job.commandType.slice(0, 64), 'failed', error.toResult());
        await publishResult(outbox, result);
      }
      return { outcome: 'refused', code: error.code, commandId, result };
    };

    const problem = shapeProblem(job.body, job.bytes);
    if (problem) return refuse(new CommandError('INVALID_COMMAND', problem));
    const digest = commandId === null ? null : commandDigest(job.topic, job.body);
    // Before verification, so a busy pool cannot give a repeat another answer than the original's.
    const stored = commandId === null ? null : await storedAnswer(commandId, digest, job.body);
    if (stored) return stored;
    const checked = await verifier.check({ topic: job.topic, topicType: job.commandType, body: job.body });
    if (checked.ok) return { command: checked.command, digest, refuse };
    if (checked.code === 'BUSY') {
      if (busy === 'defer') return null;
      if (commandId !== null && (await registry.lookup(commandId)) !== null) return unanswered(commandId, job, checked.detail);
    }
    return refuse(new CommandError(checked.code, checked.detail));
  }

  async function process(job: CommandJob, jobId: string): Promise<ProcessOutcome> {
    const started = Date.now();
    const admitted = await admit(job, 'answer');
    if ('outcome' in admitted) return admitted;
    const { command, digest, refuse } = admitted;
    const ahead = running.get(command.command_id);
    // The same id still executing in the other lane: its result is the answer (a repeat, below).
    if (ahead) await ahead.catch(() => undefined);
    const run = claimAndExecute(command, job, jobId, digest, started, refuse);
    running.set(command.command_id, run);
    try {
      return await run;
    } finally {
      if (running.get(command.command_id) === run) running.delete(command.command_id);
    }
  }

  async function claimAndExecute(
    command: Command,
    job: CommandJob,
    jobId: string,
    digest: string | null,
    started: number,
    refuse: Refuse,
  ): Promise<ProcessOutcome> {
    const id = command.command_id;
    // A repeat is answered before the expiry check: its original result stays valid however late it comes.
    let record = await registry.lookup(id);
    if (record === null) {
      const expired = expiryError(command, job.receivedAt, clock.now(), config.commandMaxAgeSeconds);
      if (expired) return refuse(expired);
      record = await registry.claim(id, jobId, clock.now(), digest);
    }
    if (record?.state === 'done') {
      log.info({ commandId: id }, 'repeated command: not executed again');
      count(command.command_type, 'duplicate');
      if (command.requires_ack) await publishResult(outbox, record.result);
      return { outcome: 'duplicate', commandId: id, result: record.result };
    }
    const resumed = record !== null;
    if (record !== null) log.warn({ commandId: id, claimedBy: record.jobId, jobId }, 'resuming a command whose earlier run was cut short');

    const outcome = await execute(command, job, resumed);
    const result = buildResult(resultCtx, id, command.command_type, outcome.status, outcome.result);
    // The claiming message's digest: the one an identical repeat will carry.
    await registry.complete(id, result, clock.now(), record?.digest ?? digest);
    count(command.command_type, outcome.status === 'success' ? 'success' : String(outcome.result.error_code ?? 'failed'));
    metrics.observe('command_duration_ms', Date.now() - started, { type: command.command_type });
    log.info({ commandId: id, type: command.command_type, status: outcome.status, result: outcome.result }, 'command handled');
    const published = command.requires_ack ? await publishResult(outbox, result) : null;
    if (outcome.after) startAfter(outcome.after, published);
    return { outcome: outcome.status, commandId: id, result };
  }

  return {
    process,
    async screen(job) {
      const admitted = await admit(job, 'defer');
      return admitted !== null && 'outcome' in admitted ? admitted : null;
    },
    async close() {
      shutdown.abort();
      unauthenticatedAnswers.close();
      // whenIdle() cannot be aborted; do not let it hold up shutdown.
      await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    },
  };
}
