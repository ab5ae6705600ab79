/**
 * Entry point of the remote-command pipeline in the business app: a BullMQ
 * worker on the `commands` queue (concurrency 1, so commands run one at a
 * time in arrival order) feeding the command processor, with the
 * verification pool for signatures. See docs/commands.md.
 */
import { UnrecoverableError } from 'bullmq';
import { makeWorker } from '../../../queue/connection.js';
import { commandJobSchema, type CommandJob } from '../../../queue/jobs.js';
import { queueNames } from '../../../queue/names.js';
import { createCommandVerifier } from '../auth/pool.js';
import { loadCommandPublicKey } from '../auth/public-key.js';
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
  connection.on('error', (err) => log.warn({ err: err.message }, 'commands worker redis error'));
  const worker = makeWorker<CommandJob>(
    queueNames.commands,
    async (job) => {
      const parsed = commandJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`malformed command job: ${parsed.error.issues[0]?.message}`);
      await processor.process(parsed.data, job.id ?? '');
    },
    connection,
    keys.bullPrefix,
    log,
    { concurrency: 1 },
  );
  await worker.waitUntilReady();

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
        await step('worker', () => worker.close());
        await step('post-result work', () => processor.close());
        await step('verification pool', () => verifier.close());
        await step('connection', () => connection.quit());
      })()),
  };
}
