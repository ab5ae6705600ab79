/**
 * The hardware driver interface: what the `hardware` app needs from a
 * machine link, whatever carries it (simulator, serial board). Drivers emit
 * normalized events (queue/jobs.ts `HwEvent`, minus the app-assigned fields
 * they already carry) and execute commands. One contract suite runs against
 * every driver (docs/architecture.md#contract-suites).
 */
import type { HwCommand, HwEvent } from '../../queue/jobs.js';

export interface HardwareDriver {
  /**
   * Open the link. Events may start flowing once it resolves, beginning with
   * any still pending from before a restart.
   */
  start(): Promise<void>;
  /**
   * Execute one command. Resolves when the hardware accepted it (a payout's
   * progress and end arrive later as events). Rejects with a DriverError
   * when the link is down or the board refused.
   */
  execute(cmd: HwCommand): Promise<void>;
  /**
   * Register the one event sink, before `start()`. Every event carries a
   * unique, stable `eventId`. Money safety (docs/architecture.md#invariant-1): the
   * driver records each event durably (pending-events.ts) before the sink
   * sees it and forgets it only when the sink resolved, so a sink that rejects
   * or a crash before it resolved means the same event (same `eventId`) is
   * delivered again, also after a restart. Sinks must tolerate repeats.
   */
  onEvent(sink: EventSink): void;
  /**
   * Instead of `onEvent`: a sink that takes the events pending at a time in
   * one call, in order (one hand-over for several), under the same rules.
   * Optional: a driver without it delivers one event at a time.
   */
  onEvents?(sink: EventBatchSink): void;
  /** Stop reading, finish writing, close the link. Idempotent. */
  close(): Promise<void>;
}

export type EventSink = (event: HwEvent) => Promise<void> | void;
/** Resolves once it has taken every event of the batch; rejecting means all of them are delivered again. */
export type EventBatchSink = (events: readonly HwEvent[]) => Promise<void> | void;

export class DriverError extends Error {
  constructor(
    readonly code: 'LINK_DOWN' | 'REFUSED' | 'TIMEOUT' | 'INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}
