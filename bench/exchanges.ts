/**
 * Drives exchanges through the agent at a fixed rate and measures each one
 * from its hardware event (`timing.start_time`, the bill event's `at` in ms
 * with COINEREX_TIMESTAMP_FORMAT=iso8601) to the cloud peer's receipt of
 * its transaction message.
 */
import type { CloudPeer, Received } from '../test/helpers/cloud-peer.js';
import type { Agent } from './agent.js';

export interface Completed {
  /** Epoch ms of the bill event (the hardware's `at`). */
  eventAt: number;
  /** Epoch ms the cloud peer received the transaction. */
  receivedAt: number;
  latencyMs: number;
  messageId: string;
  transactionId: string;
}

/** Transactions the peer received from a point on, read incrementally. */
export class TransactionTracker {
  private cursor: number;
  readonly done: Completed[] = [];

  constructor(private readonly peer: CloudPeer) {
    this.cursor = peer.received.length;
  }

  /** Reads what arrived since the last call; returns the number of transactions so far. */
  poll(): number {
    const received = this.peer.received;
    for (; this.cursor < received.length; this.cursor++) {
      const r = received[this.cursor]!;
      if (r.type === 'transaction') this.done.push(completed(r));
    }
    return this.done.length;
  }
}

function completed(r: Received): Completed {
  const data = r.payload.data;
  const eventAt = Date.parse(data.timing.start_time);
  return { eventAt, receivedAt: r.at, latencyMs: r.at - eventAt, messageId: r.payload.message_id, transactionId: data.transaction_id };
}

export interface RunResult {
  injected: number;
  completed: Completed[];
  startedAt: number;
  /** The run stopped injecting because the agent fell behind by more than `maxBacklogSeconds`. */
  aborted: boolean;
}

export interface RunOptions {
  ratePerSecond: number;
  seconds: number;
  /** Stop injecting once this many seconds' worth of exchanges are unfinished. Default: never. */
  maxBacklogSeconds?: number;
  /** How long to wait for the last transactions after injecting. Default 10 s. */
  graceMs?: number;
  /** Called every tick (about 10 ms) while injecting. */
  onTick?: () => void;
  /** Stop injecting before `seconds` once this returns true. */
  stopWhen?: () => boolean;
}

const TICK_MS = 10;

/** Injects `rate × seconds` bills on a fixed schedule, then waits for their transactions. */
export async function runExchanges(agent: Agent, o: RunOptions): Promise<RunResult> {
  const tracker = new TransactionTracker(agent.peer);
  const total = Math.round(o.ratePerSecond * o.seconds);
  const startedAt = Date.now();
  let injected = 0;
  let aborted = false;
  const adds: Promise<unknown>[] = [];
  while (injected < total) {
    // Catch up to the schedule: at high rates several bills per tick.
    const due = Math.min(total, Math.floor(((Date.now() - startedAt) / 1000) * o.ratePerSecond) + 1);
    for (; injected < due; injected++) adds.push(agent.insertBill());
    o.onTick?.();
    if (o.stopWhen?.()) break;
    const backlog = injected - tracker.poll();
    if (o.maxBacklogSeconds !== undefined && backlog > o.ratePerSecond * o.maxBacklogSeconds + 10) {
      aborted = true;
      break;
    }
    const next = startedAt + (injected / o.ratePerSecond) * 1000;
    await sleep(Math.max(1, Math.min(TICK_MS, next - Date.now())));
  }
  await Promise.all(adds);
  const deadline = Date.now() + (o.graceMs ?? 10_000);
  while (tracker.poll() < injected && Date.now() < deadline) await sleep(TICK_MS);
  return { injected, completed: tracker.done, startedAt, aborted };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
