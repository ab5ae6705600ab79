/** What every command handler receives and returns. */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config, RuntimeSettings } from '../../../../shared/config.js';
import type { Clock, Timestamp } from '../../../../shared/clock.js';
import type { RedisKeys } from '../../../../shared/keys.js';
import type { Logger } from '../../../../shared/logger.js';
import type { OutboxJob } from '../../../../queue/jobs.js';
import type { MachinePort } from '../../machine-port.js';

export interface HandlerContext {
  config: Config;
  log: Logger;
  keys: RedisKeys;
  redis: Redis;
  machine: MachinePort;
  outbox: Queue<OutboxJob>;
  clock: Clock;
  /** Live runtime settings: configured values with the cloud's overrides. */
  settings(): Promise<RuntimeSettings>;
  /** Epoch ms as a protocol timestamp in the configured format. */
  timestamp(ms: number): Timestamp;
  /** This run resumes a claimed command whose earlier run was cut short: skip checks already passed, do not double-count. */
  resumed: boolean;
}

export interface HandlerOutcome {
  status: 'success' | 'failed';
  result: Record<string, unknown>;
  /** Work that must start only after the result is out (a restart); aborted on shutdown. */
  after?: (signal: AbortSignal) => Promise<void>;
}

/** Refusals are thrown as CommandError; anything else thrown is an unexpected failure. */
export type Handler<C> = (command: C, ctx: HandlerContext) => Promise<HandlerOutcome>;
