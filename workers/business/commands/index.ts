/**
 * Entry point of the remote-command pipeline in the business app, with the
 * verification pool for signatures. Two lanes, each one command at a time in
 * arrival order: the `commands` queue runs every command but `coin_dispense`,
 * which it moves to `commands-dispense`, so `lock`, `query`, `config` and
 * `restart` never wait behind a payout. A command id still executes at most
 * once (the processor's claim, and its in-process guard across the two
 * lanes). See docs/commands.md.
 */
import { UnrecoverableError } from 'bullmq';
import { makeQueue, makeWorker } from '../../../queue/connection.js';
import { commandJobSchema, type CommandJob } from '../../../queue/jobs.js';
import { queueNames } from '../../../queue/names.js';
import { createCommandVerifier } from './auth/pool.js';
import { loadCommandPublicKey } from './auth/public-key.js';
import type { CommandPipelineDeps } from './deps.js';
import { commandProcessor } from './pipeline.js';

export type { CommandPipelineDeps };

export interface CommandPipelineOptions {
  /** Verification threads, 1..2. Default 1. */
  verifierThreads?: number;
  /** How long a restart waits for its result to be published first, ms. Default 5000. */
  resultWaitMs?: number;
}

export interface CommandPipeline {
  /** Stops intake, lets the command in hand finish, closes the pool and the connection. Idempotent. */
  close(): Promise<void>;
}

export async function startCommandPipeline(deps: CommandPipelineDeps, options: CommandPipelineOptions = {}): Promise<CommandPipeline> {
  const { config, log, keys } = deps;
  const publicKeyPem = loadCommandPublicKey(config.commandPublicKey);
  if (publicKeyPem) {
    log.info({ key: config.commandPublicKey }, 'remote commands must be signed (Ed25519)');
  } else {
    log.warn(
      '!!! REMOTE COMMANDS ARE NOT AUTHENTICATED: no COINEREX_COMMAND_PUBLIC_KEY is configured, so ANYONE who can publish ' +
        `to ${config.topicPrefix}/commands/${config.deviceId}/+ can dispense coins, lock or restart this machine !!!`,
    );
  }
  const verifier = createCommandVerifier({
    publicKeyPem,
    maxThreads: options.verifierThreads,
    onError: (err) => log.error({ err }, 'verification pool error'),
  });
  const processor = commandProcessor({ ...deps, verifier, resultWaitMs: options.resultWaitMs });
  const connection = deps.redis.duplicate();
  const dispenseConnection = deps.redis.duplicate();
  for (const c of [connection, dispenseConnection]) c.on('error', (err) => log.warn({ err: err.message }, 'commands worker redis error'));
  const dispenseLane = makeQueue<CommandJob>(queueNames.commandsDispense, deps.redis, keys.bullPrefix, log);
  const parse = (data: unknown): CommandJob => {
    const parsed = commandJobSchema.safeParse(data);
    if (!parsed.success) throw new UnrecoverableError(`malformed command job: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  };
  const worker = makeWorker<CommandJob>(
    queueNames.commands,
    async (job) => {
      const command = parse(job.data);
      // Routed by topic only; the processor validates everything. The job id makes a re-run of this job add nothing.
      if (command.commandType === 'coin_dispense') await dispenseLane.add('coin_dispense', command, { jobId: `lane-${job.id ?? ''}` });
      else await processor.process(command, job.id ?? '');
    },
    connection,
    keys.bullPrefix,
    log,
    { concurrency: 1 },
  );
  const dispenseWorker = makeWorker<CommandJob>(
    queueNames.commandsDispense,
    async (job) => {
      await processor.process(parse(job.data), job.id ?? '');
    },
    dispenseConnection,
    keys.bullPrefix,
    log,
    { concurrency: 1 },
  );
  await Promise.all([worker.waitUntilReady(), dispenseWorker.waitUntilReady()]);

  let closing: Promise<void> | undefined;
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      log.error({ err }, `command pipeline: ${what} failed while closing`);
    }
  };
  return {
    close: () =>
      (closing ??= (async () => {
        await step('worker', () => Promise.all([worker.close(), dispenseWorker.close()]));
        await step('post-result work', () => processor.close());
        await step('verification pool', () => verifier.close());
        await step('dispense lane', () => dispenseLane.close());
        await step('connection', () => Promise.all([connection.quit(), dispenseConnection.quit()]));
      })()),
  };
}
