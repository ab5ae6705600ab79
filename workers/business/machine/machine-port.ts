/**
 * What the command handlers (workers/business/commands/) need from the
 * machine (the exchange engine and its state, workers/business/*). The
 * engine implements it; the command pipeline only sees this interface.
 */
import type { MachineSnapshot } from '../../../shared/machine-state.js';
import type { RuntimeSettings } from '../../../shared/config.js';
import type { Envelope } from '../../../shared/messages.js';
import type { DoubtDecision, DoubtResolution } from '../exchange/doubt.js';
import type { RemoteDispenseRequest } from '../exchange/payout-lane.js';

export type { RemoteDispenseRequest };

export interface RemoteDispenseOutcome {
  success: boolean;
  coinsDispensed: number;
  /** Coins not paid because the hopper ran out: reported to the operator, not owed as debt. */
  coinsUnpaid: number;
  coinsRemaining: number;
  transactionId: string;
  executionTimeMs: number;
}

export interface LockRequest {
  locked: boolean;
  reason: string | null;
  operatorId: string | null;
  /** Epoch ms of the automatic unlock, null = until unlocked. */
  until: number | null;
  messageDisplay: string | null;
}

export interface JournalQuery {
  /** Epoch ms, inclusive; null = from the oldest entry kept. */
  since: number | null;
  /** Epoch ms, inclusive; null = up to now. */
  until: number | null;
  /** At most this many entries, 1..100. */
  limit: number;
}

export interface MachinePort {
  snapshot(): Promise<MachineSnapshot>;
  /**
   * Pays out `coins` for a remote command: never overlaps an exchange payout,
   * sets machine status 3 while it runs, publishes the `remote_dispense`
   * transaction and an accounting message. At most once per commandId: a
   * second call with the same commandId (the command pipeline re-running a
   * job after a crash) pays nothing more and resolves to the first call's
   * outcome, waiting for it if that payout is still running. A payout that
   * has not started by `deadline` is cancelled (EXPIRED); one that started is
   * waited for and answered with what it paid.
   */
  remoteDispense(req: RemoteDispenseRequest): Promise<RemoteDispenseOutcome>;
  /** Whether a payout was ever queued for this command id (its outcome is then the machine's to tell). */
  dispenseQueued(commandId: string): Promise<boolean>;
  /**
   * A person's decision about error 51 and the debt in doubt (the coins were
   * paid, were not, or no choice): one atomic write, recorded in the journal.
   */
  decideDoubt(decision: DoubtDecision): Promise<DoubtResolution>;
  /** Persists the lock, disables/enables the acceptors, shows the message, raises/clears alarm 3. */
  setLock(req: LockRequest): Promise<void>;
  /** Resolves once no exchange or payout is in progress, or after `maxWaitMs` (default 60 s) at the latest (used before a restart). */
  whenIdle(maxWaitMs?: number): Promise<void>;
  /** Publish accounting / status now (query command). */
  publishAccounting(): Promise<void>;
  publishStatus(): Promise<void>;
  /** Apply changed runtime settings live (config command); already validated and persisted. */
  applySettings(settings: RuntimeSettings): Promise<void>;
  /**
   * Journal entries (the full original `transaction` envelopes, docs/protocol.md#8-local-durability)
   * whose transaction time lies in [since, until], oldest first, at most
   * `limit` (query `transactions`: re-published with their original message_id).
   */
  readJournal(query: JournalQuery): Promise<Envelope[]>;
}
