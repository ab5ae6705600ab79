/**
 * The journal as `coinerex journal` shows it (spawned, as an operator runs
 * it) and as `query transactions` reads it: the original envelopes, in
 * time order, filtered by --since/--until and --limit.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/pm2.js';
import { startBusinessRig, dataOf } from '../helpers/business-rig.js';

const run = promisify(execFile);

async function cli(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin', 'coinerex'), 'journal', ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
}

test('coinerex journal lists the original transaction envelopes, filtered by time and limit', async (t) => {
  const rig = await startBusinessRig();
  t.teardown(() => rig.close());
  for (const amount of [100, 500, 1000] as const) {
    await rig.act({ action: 'bill', amount });
    await rig.waitMessages((m) => m.message_type === 'transaction', [100, 500, 1000].indexOf(amount) + 1);
  }
  await rig.settle();
  const sent = rig.of('transaction');

  const all = await cli(rig.t.env, '--json');
  t.is(all.code, 0, all.stderr);
  const listed = all.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(listed, JSON.parse(JSON.stringify(sent)), 'same envelopes, message ids and seq as first published');

  const two = await cli(rig.t.env, '--json', '--limit', '2');
  t.deepEqual(two.stdout.trim().split('\n').map((l) => JSON.parse(l).message_id), sent.slice(1).map((m) => m.message_id), 'the latest two, oldest first');
  const firstTwo = await cli(rig.t.env, '--json', '--limit', '2', '--since', '0');
  t.deepEqual(firstTwo.stdout.trim().split('\n').map((l) => JSON.parse(l).message_id), sent.slice(0, 2).map((m) => m.message_id), 'the first two from --since on');

  const future = await cli(rig.t.env, '--since', String(Math.floor(Date.now() / 1000) + 3600));
  t.is(future.code, 0);
  t.regex(future.stdout, /no journal entries/);

  const human = await cli(rig.t.env, '--since', new Date(Date.now() - 3_600_000).toISOString());
  const lines = human.stdout.trim().split('\n');
  t.is(lines.length, 3);
  t.true(lines[2]!.includes(dataOf(sent[2]!).transaction_id));
  t.regex(lines[2]!, /in 1000 NTD {2}out 100 coins {2}ok/);

  // query transactions reads the same journal through the MachinePort.
  const viaPort = await rig.business.machine.readJournal({ since: null, until: null, limit: 100 });
  t.deepEqual(viaPort, sent);

  const bad = await cli(rig.t.env, '--since', 'yesterday');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--since: expected an ISO 8601 time/);
});
