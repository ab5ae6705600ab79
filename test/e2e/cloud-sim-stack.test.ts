/**
 * The demo loop `npm start` shows, under PM2: simulator → business → mqtt →
 * broker → cloud-sim (ACKs, prints) and back: `coinerex cloud` commands
 * executed by the agent, the ACK policy switched at run time, and
 * `coinerex status` showing it all.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, ROOT, type Pm2Stack } from '../helpers/pm2.js';
import { testEnv, cleanupRedis, waitFor } from '../helpers/env.js';

// Resends 2 s apart, then a long final wait: switching the policy back always lands before a give-up, even on a busy machine.
const env = testEnv({ COINEREX_RETRY_SCHEDULE: '2,2,2,30', COINEREX_HEARTBEAT_SECONDS: '60' });
let stack: Pm2Stack;

const cli = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(join(ROOT, 'bin', 'coinerex'), args, { env: { ...process.env, ...env.env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
const cloudLines = () => {
  try {
    return readFileSync(join(stack.home, 'logs', 'cloud-sim-out.log'), 'utf8').split('\n');
  } catch {
    return [];
  }
};
const status = async () => JSON.parse((await cli('status', '--json')).stdout);

test.before(async () => {
  stack = await startStack(['hardware', 'business', 'mqtt', 'supervisor', 'cloud-sim'], env.env);
  await waitFor(() => cloudLines().find((l) => l.includes('cloud simulator for')), 15_000, 'cloud-sim ready');
});

test.after.always(async () => {
  await stack?.destroy();
  await cleanupRedis(env.prefix);
});

test.serial('a customer exchange reaches the cloud simulator, which ACKs it', async (t) => {
  t.is((await cli('sim', 'bill', '500')).code, 0);
  const line = await waitFor(() => cloudLines().find((l) => / transaction(?: seq=\d+)? id=TXN_\d{8}_\d{6}_\d{3} kind=exchange bills=500 .*dispensed=50 .*-> acked$/.test(l)), 20_000, 'transaction line');
  t.truthy(line);
  await waitFor(() => cloudLines().find((l) => / accounting(?: seq=\d+)? .*bills=500 .*-> acked$/.test(l)), 10_000, 'accounting line');
  await waitFor(async () => (await status()).delivery.pending === 0, 10_000, 'nothing pending');
});

test.serial('`coinerex cloud dispense` is executed by the agent and answered', async (t) => {
  const out = await cli('cloud', 'dispense', '5');
  t.is(out.code, 0, out.stderr);
  t.regex(out.stdout, /^success: .*"coins_dispensed":5/m);
  await waitFor(() => cloudLines().find((l) => / transaction(?: seq=\d+)? id=REMOTE_\S+ kind=remote_dispense .*dispensed=5 .*-> acked$/.test(l)), 15_000, 'remote dispense transaction');
  const s = await status();
  t.is(s.machine.counters.remote_dispensed, 5);
  t.is(s.machine.counters.total_dispensed, 55);
});

test.serial('ack-none leaves messages pending until the policy is switched back', async (t) => {
  t.is((await cli('cloud', 'policy', 'ack-none')).code, 0);
  await cli('sim', 'bill', '100');
  await waitFor(() => cloudLines().find((l) => / transaction .*bills=100 .*not acked \(policy ack-none\)$/.test(l)), 15_000, 'unacked transaction');
  const pending = await waitFor(async () => ((await status()).delivery.pending > 0 ? (await status()).delivery : null), 5_000, 'pending ACK');
  t.true(pending.pending > 0);
  t.is((await cli('cloud', 'policy', 'ack-all')).code, 0);
  // The next retransmission is ACKed now: settled, not given up.
  await waitFor(async () => (await status()).delivery.pending === 0, 15_000, 'settled after retransmission');
  const s = await status();
  t.true(s.delivery.retransmits > 0);
  t.is(s.delivery.failed, 0);
});

test.serial('`coinerex status` shows the machine and every app', async (t) => {
  const { code, stdout } = await cli('status');
  t.is(code, 0);
  t.regex(stdout, /^counters {2}bills 600 NTD/m);
  t.regex(stdout, /^broker {4}connected since \d{4}-\d\d-\d\d /m);
  for (const app of ['hardware', 'business', 'mqtt', 'supervisor', 'cloud-sim']) t.regex(stdout, new RegExp(`^ {2}${app}\\s+online\\s`, 'm'));
});
