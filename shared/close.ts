/**
 * The one shutdown sequence of every app and component (docs/architecture.md#lifecycle):
 * named steps run one after the other in the order given, because the order
 * carries the money safety (stop intake, let the job in hand finish or hand
 * it back, then close queues, then disconnect). A step that fails or hangs
 * is logged and the next step still runs: a half-closed app must still
 * release its connections. The returned function is idempotent: every call
 * gets the same promise.
 */
export interface CloseStep {
  /** Said in the log when the step fails or times out. */
  readonly name: string;
  readonly run: () => unknown;
  /** Overrides the sequence's per-step timeout for this step. */
  readonly timeoutMs?: number;
}

export interface CloseOptions {
  /** Where failed and timed-out steps are reported. */
  readonly log: { warn(obj: object, msg: string): void };
  /** How long one step may take before the sequence moves on without it; none by default. */
  readonly stepTimeoutMs?: number;
}

/** `false`/`undefined` entries are skipped, so optional parts need no branches at the call site. */
export type CloseSteps = ReadonlyArray<CloseStep | false | undefined>;

export function closeInOrder(steps: CloseSteps | (() => CloseSteps), options: CloseOptions): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      for (const step of typeof steps === 'function' ? steps() : steps) {
        if (step) await runStep(step, step.timeoutMs ?? options.stepTimeoutMs, options.log);
      }
    })());
}

async function runStep(step: CloseStep, timeoutMs: number | undefined, log: CloseOptions['log']): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    if (timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(step.run), timedOut]);
    if (outcome === 'timeout') log.warn({ step: step.name, timeoutMs }, 'close step timed out; going on without it');
  } catch (err) {
    log.warn({ err, step: step.name }, 'close step failed');
  } finally {
    clearTimeout(timer);
  }
}

/** A step that quits a Redis connection, dropping it when QUIT cannot be sent. */
export const quitStep = (name: string, connection: { quit(): Promise<unknown>; disconnect(): void }): CloseStep => ({
  name,
  run: () => connection.quit().catch(() => connection.disconnect()),
});
