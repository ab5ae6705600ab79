/**
 * The `hw-events` worker: a hardware event carries money (a credit, a
 * payout's end), so it is never given up. A job that fails is retried in
 * place, in order, without end (backoff doubling from 100 ms to
 * COINEREX_EVENT_RETRY_MAX_MS); while one is stuck, error 1 is raised (the
 * service stops taking cash it could not record) and `keys.eventStuck` says
 * which, so the dashboard's /health fails. A job is never moved to `failed`:
 * on shutdown it goes back to the queue, and a crash leaves it to be re-run
 * (stalled jobs are re-run however often they stall).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { hwEventSchema, makeWorker, queueNames, type HwEvent } from '../../queue/index.js';
import type { BusinessDeps } from './deps.js';
import type { ExchangeEngine } from './exchange/engine.js';
import type { Faults } from './faults/faults.js';

/** What `keys.eventStuck` holds while an event cannot be applied (shared with the dashboard). */
export interface StuckEvent {
  jobId: string;
  kind: string;
  since: number;
  attempts: number;
  error: string;
}

const FIRST_RETRY_MS = 100;

export function eventsWorker(d: BusinessDeps, engine: ExchangeEngine, faults: Faults, connection: Redis): { close(): Promise<void> } {
  const stopping = new AbortController();
  let stuck: StuckEvent | null = null;
  // What an earlier run left (it stopped while an event was stuck) is cleared by the first event applied.
  let leftover = true;

  /** Best effort: Redis may be the very thing that fails. Raised once per stuck episode. */
  const report = async (s: StuckEvent, raise: boolean) => {
    await d.redis.hset(d.keys.eventStuck, { ...s, since: String(s.since), attempts: String(s.attempts) }).catch(() => undefined);
    if (raise) await engine.act(() => faults.raise('error', 1, { source: 'events', context: { cause: 'hardware event cannot be applied', job_id: s.jobId, event_kind: s.kind, error: s.error } }));
  };

  const apply = async (job: Job, token: string | undefined) => {
    let raised = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const parsed = hwEventSchema.safeParse(job.data);
        // An event this version cannot read waits for one that can (an upgrade), like any other failure.
        if (!parsed.success) throw new Error(`invalid hardware event: ${parsed.error.issues[0]?.message ?? 'schema'}`);
        const started = Date.now();
        await engine.handle(parsed.data as HwEvent);
        d.metrics.observe('business_event_ms', Date.now() - started, { kind: parsed.data.kind });
        break;
      } catch (err) {
        const message = (err as Error).message;
        const prev: StuckEvent | null = stuck;
        const now: StuckEvent = {
          jobId: job.id ?? '',
          kind: String((job.data as { kind?: unknown })?.kind ?? job.name),
          since: prev !== null && prev.jobId === job.id ? prev.since : Date.now(),
          attempts: attempt,
          error: message.slice(0, 500),
        };
        stuck = now;
        d.log.error({ err, jobId: job.id, attempt }, 'hardware event failed; retrying (a money event is never given up)');
        d.metrics.incr('business_event_retries_total', { kind: now.kind });
        try {
          await report(now, !raised);
          raised = true;
          leftover = true;
        } catch (reportErr) {
          d.log.warn({ err: reportErr }, 'could not raise error 1 for a stuck hardware event; trying again');
        }
        await sleep(Math.min(d.config.eventRetryMaxMs, FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 20)), undefined, { signal: stopping.signal }).catch(() => undefined);
        if (stopping.signal.aborted) {
          // Back to the queue, not to `failed`; if even that fails the job stalls and the next start re-runs it.
          await job.moveToDelayed(Date.now(), token).catch(() => undefined);
          throw new DelayedError();
        }
      }
    }
    if (stuck || raised || leftover) {
      stuck = null;
      await d.redis.del(d.keys.eventStuck);
      await engine.act(() => faults.clear('error', 1, { onlySource: 'events', context: { cause: 'hardware event applied' } }));
      leftover = false;
    }
  };

  const worker = makeWorker(queueNames.hwEvents, apply, connection, d.keys.bullPrefix, d.log, { maxStalledCount: Number.MAX_SAFE_INTEGER });
  return {
    close: () => {
      stopping.abort();
      return worker.close();
    },
  };
}
