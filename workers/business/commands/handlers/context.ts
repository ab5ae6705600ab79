/** What every command handler receives and returns. */
import type { CommandPipelineDeps } from '../deps.js';
import type { RuntimeSettings } from '../../../../shared/config.js';
import type { Timestamp } from '../../../../shared/clock.js';
import type { CommandError } from '../../../../shared/errors.js';

export interface HandlerContext extends Omit<CommandPipelineDeps, 'metrics'> {
  /** Live runtime settings: configured values with the cloud's overrides. */
  settings(): Promise<RuntimeSettings>;
  /** Epoch ms as a protocol timestamp in the configured format. */
  timestamp(ms: number): Timestamp;
  /** This run resumes a claimed command whose earlier run was cut short (crash, stalled job). */
  resumed: boolean;
  /** A resumed command's expiry, checked again (a new one was checked before its claim); null when still valid. */
  expired: CommandError | null;
  /** Epoch ms after which a payout that has not started is cancelled (`timeout_seconds`, else the configured default). */
  deadline: number;
}

export interface HandlerOutcome {
  status: 'success' | 'failed';
  result: Record<string, unknown>;
  /** Work that must start only after the result is out (a restart); aborted on shutdown. */
  after?: (signal: AbortSignal) => Promise<void>;
}

/** Refusals are thrown as CommandError; anything else thrown is an unexpected failure. */
export type Handler<C> = (command: C, ctx: HandlerContext) => Promise<HandlerOutcome>;
