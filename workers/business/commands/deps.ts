/** What the business app hands the command pipeline (workers/business/main.ts). */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Clock } from '../../../shared/clock.js';
import type { Config } from '../../../shared/config.js';
import type { RedisKeys } from '../../../shared/keys.js';
import type { Logger } from '../../../shared/logger.js';
import type { Metrics } from '../../../shared/metrics.js';
import type { OutboxJob } from '../../../queue/jobs.js';
import type { MachinePort } from '../machine/machine-port.js';

export interface CommandPipelineDeps {
  config: Config;
  log: Logger;
  keys: RedisKeys;
  /** The app's state connection; the worker's blocking reads use a duplicate of it. */
  redis: Redis;
  machine: MachinePort;
  /** Command results (`command_result`), heartbeats and re-published messages for the mqtt app. */
  outbox: Queue<OutboxJob>;
  clock: Clock;
  metrics: Metrics;
}
