/**
 * The verification pool: runs validation and signature checks of commands in
 * a small piscina pool so a flood of commands never occupies the business
 * app's event loop (docs/architecture.md#processes; sizing per docs/pitfalls.md#7-piscina). When the
 * pool is saturated or a check hangs, the command is refused with BUSY and
 * nothing is executed.
 */
import { Piscina } from 'piscina';
import type { CheckOutcome, CheckTask } from './check-command.js';

export interface VerifierOptions {
  /** PEM of the Ed25519 public key; null accepts unsigned commands. */
  publicKeyPem: string | null;
  /** Worker threads, 1..2 (each costs about 10 MB). Default 1. */
  maxThreads?: number;
  /** Checks waiting for a thread before refusals start. Default 16. */
  maxQueue?: number;
  /** A check taking longer is abandoned (the thread is replaced), ms. Default 5000. */
  taskTimeoutMs?: number;
  /** A worker thread failed outside a task (piscina replaces it). */
  onError?: (err: Error) => void;
}

export type VerifyOutcome = CheckOutcome | { ok: false; code: 'BUSY'; detail: string };

export interface CommandVerifier {
  check(task: CheckTask): Promise<VerifyOutcome>;
  close(): Promise<void>;
}

export function createCommandVerifier(opts: VerifierOptions): CommandVerifier {
  const maxThreads = Math.min(Math.max(opts.maxThreads ?? 1, 1), 2);
  const pool = new Piscina<CheckTask, CheckOutcome>({
    filename: new URL('./verify-worker.js', import.meta.url).href,
    // No thread while no command arrives: an idle thread is ~12 MB of the board's memory
    // (docs/performance.md); the first command after a quiet minute waits ~100 ms for one.
    minThreads: 0,
    maxThreads,
    // Kept a minute after the last command rather than started for every one.
    idleTimeout: 60_000,
    maxQueue: opts.maxQueue ?? 16,
    workerData: { publicKeyPem: opts.publicKeyPem },
  });
  pool.on('error', (err: Error) => opts.onError?.(err));
  const timeoutMs = opts.taskTimeoutMs ?? 5_000;
  // Our own bound: while piscina starts a thread (none kept idle) its queue limit does not apply yet.
  const bound = maxThreads + (opts.maxQueue ?? 16);
  let inFlight = 0;
  return {
    async check(task) {
      if (inFlight >= bound) return { ok: false, code: 'BUSY', detail: `verification unavailable: ${inFlight} checks waiting` };
      inFlight++;
      try {
        return await pool.run(task, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        return { ok: false, code: 'BUSY', detail: `verification unavailable: ${(err as Error).message}` };
      } finally {
        inFlight--;
      }
    },
    close: () => pool.close(),
  };
}
