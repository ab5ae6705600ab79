/**
 * Entry point of the remote-command pipeline in the business app. Two lanes,
 * each one command at a time in arrival order: the `commands` queue runs
 * every command but `coin_dispense`, which it screens (steps 1–3, so a
 * refusal is answered there) and moves to `commands-dispense`, so `lock`,
 * `query`, `config` and `restart` never wait behind a payout. A
 * command id still executes at most once (the processor's claim, and its
 * in-process guard across the two lanes). See docs/commands.md. The
 * verification pool and the lanes' connections come from the entry
 * (workers/business/main.ts), which closes them.
 */
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../../shared/config.js';
import { closeInOrder } from '../../../shared/close.js';
import type { Logger } from '../../../shared/logger.js';
import { makeQueue, makeWorker } from '../../../queue/connection.js';
import { commandJobSchema, type CommandJob } from '../../../queue/jobs.js';
import { queueNames } from '../../../queue/names.js';
import { createCommandVerifier, type CommandVerifier } from './auth/pool.js';
import { loadCommandPublicKey } from './auth/public-key.js';
import type { CommandPipelineDeps } from './deps.js';
import { commandProcessor, type ProcessorDeps } from './pipeline.js';

export type { CommandPipelineDeps };

export interface CommandPipelineStart extends ProcessorDeps {
  /** Blocking-read connections of the two lanes' workers. */
  connections: { commands: Redis; dispense: Redis };
}

export interface CommandPipeline {
  /** Stops intake, lets the command in hand finish, closes the dispense lane. Idempotent. */
  close(): Promise<void>;
}

/**
 * The verification pool with the configured key (COINEREX_COMMAND_PUBLIC_KEY),
 * read once: an unusable key stops the start; no key is said loudly.
 */
export function startCommandVerifier(config: Config, log: Logger): CommandVerifier {
  const publicKeyPem = loadCommandPublicKey(config.commandPublicKey);
  if (publicKeyPem) {
    log.info({ key: config.commandPublicKey }, 'remote commands must be signed (Ed25519)');
  } else {
    log.warn(
      '!!! REMOTE COMMANDS ARE NOT AUTHENTICATED: no COINEREX_COMMAND_PUBLIC_KEY is configured, so ANYONE who can publish ' +
        `to ${config.topicPrefix}/commands/${config.deviceId}/+ can dispense coins, lock or restart this machine !!!`,
    );
  }
  return createCommandVerifier({ publicKeyPem, onError: (err) => log.error({ err }, 'verification pool error') });
}

export async function startCommandPipeline(start: CommandPipelineStart): Promise<CommandPipeline> {
  const { log, keys, connections } = start;
  const processor = commandProcessor(start);
  const dispenseLane = makeQueue<CommandJob>(queueNames.commandsDispense, start.redis, keys.bullPrefix, log);
  const parse = (data: unknown): CommandJob => {
    const parsed = commandJobSchema.safeParse(data);
    if (!parsed.success) throw new UnrecoverableError(`malformed command job: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  };
  const worker = makeWorker<CommandJob>(
    queueNames.commands,
    async (job) => {
      const command = parse(job.data);
      if (command.commandType !== 'coin_dispense') await processor.process(command, job.id ?? '');
      // A dispense is screened here first, so one refused before its claim (a forgery) costs no payout-lane job.
      // The job id makes a re-run of this job add nothing.
      else if ((await processor.screen(command)) === null) await dispenseLane.add('coin_dispense', command, { jobId: `lane-${job.id ?? ''}` });
    },
    connections.commands,
    keys.bullPrefix,
    log,
    { concurrency: 1 },
  );
  const dispenseWorker = makeWorker<CommandJob>(
    queueNames.commandsDispense,
    async (job) => {
      await processor.process(parse(job.data), job.id ?? '');
    },
    connections.dispense,
    keys.bullPrefix,
    log,
    { concurrency: 1 },
  );
  await Promise.all([worker.waitUntilReady(), dispenseWorker.waitUntilReady()]);

  return {
    close: closeInOrder(
      [
        { name: 'command workers', run: () => Promise.all([worker.close(), dispenseWorker.close()]) },
        { name: 'post-result work', run: () => processor.close() },
        { name: 'dispense lane', run: () => dispenseLane.close() },
      ],
      { log },
    ),
  };
}
