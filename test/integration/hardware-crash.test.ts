/**
 * The real hardware app (dist/workers/hardware/main.js) killed with SIGKILL
 * in the middle of a payout: the coins already paid are reported exactly,
 * the payout is not resumed, nothing is paid twice; SIGTERM shuts down cleanly.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { makeQueue, producerConnection, queueNames, type HwCommand, type HwEvent } from '../../queue/index.js';
import { readPhysicalPayout, readPhysicalTruth } from '../../shared/physical-truth.js';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';
import { ROOT } from '../helpers/pm2.js';

const env = testEnv({ COINEREX_SIM_PAYOUT_MS: '20', COINEREX_SIM_INVENTORY: '1000' });
const redis = producerConnection(REDIS_URL);
const hwEvents = makeQueue<HwEvent>(queueNames.hwEvents, redis, env.keys.bullPrefix);
const commands = makeQueue<HwCommand>(queueNames.hwCommands, redis, env.keys.bullPrefix);
const children: ChildProcess[] = [];

function startApp(): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'workers', 'hardware', 'main.js')], {
    env: { ...process.env, ...env.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

/** Events queued for the business app (none is consumed in this test). */
const queued = async (): Promise<HwEvent[]> => (await hwEvents.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.data);

test.after.always(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await hwEvents.close();
  await commands.close();
  redis.disconnect();
  await cleanupRedis(env.prefix);
});

test('kill -9 mid-payout: not resumed, the paid coins reported, no double payout; SIGTERM exits 0', async (t) => {
  const first = startApp();
  await waitFor(async () => (await queued()).some((e) => e.kind === 'hopper_level'), 15_000, 'the app up');
  await commands.add('payout', { kind: 'payout', payoutId: 'TXN_kill', coins: 500 });
  await waitFor(async () => ((await readPhysicalPayout(redis, env.keys, 'TXN_kill'))?.paid ?? 0) >= 5, 10_000, 'coins paying out');
  first.kill('SIGKILL');
  await once(first, 'exit');
  const cut = (await readPhysicalPayout(redis, env.keys, 'TXN_kill'))!;
  t.false(cut.done);
  t.true(cut.paid < 500);

  const second = startApp();
  const done = await waitFor(async () => (await queued()).find((e) => e.kind === 'payout_done'), 15_000, 'payout_done after restart');
  t.like(done, { payoutId: 'TXN_kill', requested: 500, paid: cut.paid, unpaid: 500 - cut.paid, reason: 'unknown' });

  // The business app, unsure, sends the same payout again: nothing more is paid.
  await commands.add('payout', { kind: 'payout', payoutId: 'TXN_kill', coins: 500 }, { jobId: 'again' });
  await waitFor(async () => (await commands.getJobState('again')) === 'completed', 10_000, 'repeat handled');
  const truth = await readPhysicalTruth(redis, env.keys);
  t.is(truth.dispensed, cut.paid);
  t.is(truth.inventory, 1000 - cut.paid);

  second.kill('SIGTERM');
  const [code] = (await once(second, 'exit')) as [number | null];
  t.is(code, 0);
});
