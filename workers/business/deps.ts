/**
 * What every part of the machine core is built with (docs/architecture.md#injected-io): main.ts makes the real ones, tests pass real-but-local ones.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { localDay, type Clock } from '../../shared/clock.js';
import type { Config, RuntimeSettings } from '../../shared/config.js';
import type { RedisKeys } from '../../shared/keys.js';
import type { Metrics } from '../../shared/metrics.js';
import type { HardwareLink } from './hardware-link.js';
import type { Publisher } from './outbox/publisher.js';
import { Plan } from './store/plan.js';

/** Held as `core` by every part of the machine core. */
export interface BusinessDeps {
  redis: Redis;
  keys: RedisKeys;
  config: Config;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  publisher: Publisher;
  hardware: HardwareLink;
  /** Live runtime settings (docs/protocol.md#config); replaced by applySettings. */
  settings: { current: RuntimeSettings };
}

/** `daily:<day>` hashes live this long: "today" statistics and the daily close need ≥ 35 days. */
export const DAILY_TTL_SECONDS = 40 * 86_400;
/** An applied-event marker outlives any re-delivery (BullMQ stalls, driver re-sends after a restart). */
export const APPLIED_TTL_SECONDS = 14 * 86_400;
/** A settled payout intent stays readable this long, for inspection. */
export const DONE_INTENT_TTL_SECONDS = 7 * 86_400;
/** A pure message commit is guarded this long against ioredis resending the script. */
export const EMIT_GUARD_SECONDS = 3_600;

export const newPlan = (core: BusinessDeps): Plan => new Plan(core.keys, core.config.seqField);
export const today = (core: BusinessDeps, ms = core.clock.now()): string => localDay(ms, core.config.timezone);
