/**
 * A money event is never given up (workers/business/events-worker.ts): an
 * `hw-events` job that keeps failing is retried in order without end, error 1
 * is raised and /health fails while it is stuck, and it is applied once when
 * it can be — never parked in BullMQ's `failed` set.
 */
import test from 'ava';
import { Queue } from 'bullmq';
import { checkHealth } from '../../dashboard/health.js';
import { queueNames, workerConnection } from '../../queue/index.js';
import { waitFor } from '../helpers/env.js';
import { startBusinessRig } from '../helpers/business-rig.js';

test('a failing credit is retried without end, raises error 1 and fails /health, then is applied once', async (t) => {
  const rig = await startBusinessRig({ sim: false, env: { COINEREX_EVENT_RETRY_MAX_MS: '200' } });
  const connection = workerConnection(rig.t.config.redisUrl);
  const events = new Queue(queueNames.hwEvents, { connection, prefix: rig.t.keys.bullPrefix });
  t.teardown(async () => {
    await events.close();
    await connection.quit();
    await rig.close();
  });
  const engine = rig.business.engine;
  const handle = engine.handle.bind(engine);
  let failures = 0;
  let broken = true;
  engine.handle = async (ev) => {
    if (broken && ev.kind === 'bill_accepted') {
      failures++;
      throw new Error('redis: OOM command not allowed');
    }
    return handle(ev);
  };
  const health = () => checkHealth({ redis: rig.redis, keys: rig.t.keys, apps: [], watchdogMs: 10_000, now: Date.now });

  await rig.feed({ kind: 'bill_accepted', amount: 100, eventId: 'ev-stuck-bill', at: Date.now() });
  await waitFor(() => failures >= 5, 10_000, 'five attempts');
  const snap = await rig.snapshot();
  t.true(snap.activeErrors.includes(1), 'error 1 raised while the event is stuck');
  const report = await health();
  t.is(report.status, 'fail');
  t.true(report.reasons.some((r) => /hardware event bill_accepted .*cannot be applied/.test(r)), report.reasons.join('; '));
  t.is(await events.getFailedCount(), 0, 'never parked in failed');
  t.is(snap.counters.total_bills, 0);

  broken = false;
  await waitFor(async () => (await rig.snapshot()).counters.total_bills === 100, 10_000, 'credit applied');
  await waitFor(async () => !(await rig.snapshot()).activeErrors.includes(1), 5_000, 'error 1 cleared');
  t.false((await health()).reasons.some((r) => /hardware event/.test(r)));
  await waitFor(async () => (await events.getCompletedCount()) === 1, 5_000, 'the job completed');
  t.is(await events.getFailedCount(), 0);
});
