/**
 * The mqtt app's BullMQ side: the `commands` queue it feeds, the `outbox`
 * worker it runs, and every queue for the heartbeat's diagnostics. A module of
 * its own because app.ts loads it only once the first heartbeat is out:
 * BullMQ is about a third of the app's module loading, and nothing the
 * heartbeat needs (docs/performance.md: `pm2 start` → first heartbeat).
 */
import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { allQueueNames, makeQueue, makeWorker, queueNames, type CommandJob } from '../../queue/index.js';
import { outboxProcessor, type OutboxHandlers } from './outbox.js';

export interface MqttQueues {
  commands: Queue<CommandJob>;
  /** Every queue of the agent (diagnostics), made on first use. */
  all(): Queue[];
  close(): Promise<void>;
}

/** `producer`: the fail-fast connection the queues write with. */
export function mqttQueues(producer: Redis, prefix: string, log: Logger): MqttQueues {
  const commands = makeQueue<CommandJob>(queueNames.commands, producer, prefix, log);
  let all: Queue[] | undefined;
  return {
    commands,
    all: () => (all ??= allQueueNames.map((name) => (name === queueNames.commands ? commands : makeQueue(name, producer, prefix, log)))),
    close: async () => {
      await Promise.all((all ?? [commands]).map((q) => q.close()));
    },
  };
}

/** The outbox worker, one job at a time; `redis` is the state connection, which BullMQ duplicates for blocking reads. */
export function outboxWorker(handlers: OutboxHandlers, redis: Redis, prefix: string, log: Logger): Worker {
  return makeWorker(queueNames.outbox, outboxProcessor(handlers), redis, prefix, log, { concurrency: 1 });
}
