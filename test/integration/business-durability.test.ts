/**
 * Durability with the shipped deploy/redis.conf: a private redis-server on a
 * free port in a temp dir is killed with kill -9 in the middle of a run of
 * exchanges and restarted on the same files. Every counter value and journal
 * entry the apps had been told was written is still there, the run goes on,
 * and the books end equal to the simulator's physical truth.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { readJournalEntries } from '../../shared/journal.js';
import { privateRedis } from '../helpers/private-services.js';
import { testEnv, waitFor } from '../helpers/env.js';
import { startBusinessRig, dataOf } from '../helpers/business-rig.js';

async function aofBytes(dir: string): Promise<number> {
  const d = join(dir, 'appendonlydir');
  let total = 0;
  for (const f of await readdir(d)) total += (await stat(join(d, f))).size;
  return total;
}

test('kill -9 of Redis mid-run loses no committed counter or journal entry, and the run continues', async (t) => {
  t.timeout(90_000);
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-redis-'));
  const server = await privateRedis(dir);
  t.teardown(async () => {
    await server.kill9();
    await rm(dir, { recursive: true, force: true });
  });
  await server.start();
  const env = testEnv({ COINEREX_REDIS_URL: server.url, COINEREX_SIM_INVENTORY: '5000' });
  const rig = await startBusinessRig({ reuse: env });
  t.teardown(() => rig.close());

  await rig.settle();
  const aofBefore = await aofBytes(dir);
  const ioBefore = await readFile(`/proc/${server.pid}/io`, 'utf8').catch(() => '');
  for (let i = 0; i < 10; i++) t.is(await rig.act({ action: 'bill', amount: 100 }), 'accepted');
  await rig.waitMessages((m) => m.message_type === 'transaction', 5);

  // What the apps were told is written, just before the crash.
  const committed = await rig.redis.hgetall(env.keys.counters);
  const journalBefore = await readJournalEntries(rig.redis, env.keys, { since: null, until: null, limit: 1000 });
  const seenBefore = rig.of('transaction').map((m) => m.message_id);
  t.true(journalBefore.length >= 5);
  await server.kill9();
  await server.start();
  const check = new Redis(server.url);
  t.teardown(() => check.disconnect());
  const after = await check.hgetall(env.keys.counters);
  for (const [field, value] of Object.entries(committed)) t.true(Number(after[field] ?? 0) >= Number(value), `${field} kept`);
  const journalAfter = await readJournalEntries(check, env.keys, { since: null, until: null, limit: 1000 });
  const idsAfter = new Set(journalAfter.map((e) => e.envelope.message_id));
  for (const e of journalBefore) t.true(idsAfter.has(e.envelope.message_id), `journal entry ${e.transactionId} kept`);
  for (const id of seenBefore) t.true(idsAfter.has(id), 'every published transaction is in the journal');

  // The run continues: the first ten are all paid, ten more go through.
  await waitFor(async () => (await check.zcard(env.keys.journal)) === 10, 30_000, 'the first ten transactions after the restart');
  for (let i = 0; i < 10; i++) t.is(await rig.act({ action: 'bill', amount: 500 }), 'accepted');
  await waitFor(async () => (await check.zcard(env.keys.journal)) === 20, 30_000, 'twenty transactions');
  await rig.settle(30_000);

  const truth = await rig.truth();
  const snap = await rig.snapshot();
  t.is(snap.counters.total_bills, 1000 + 5000);
  t.is(snap.counters.total_bills, truth.billsNtd);
  t.is(snap.counters.total_dispensed, 100 + 500);
  t.is(snap.counters.total_dispensed, truth.dispensed);
  t.is(snap.counters.debt_coins, 0);
  const journal = await readJournalEntries(check, env.keys, { since: null, until: null, limit: 1000 });
  t.is(new Set(journal.map((e) => dataOf(e.envelope).transaction_id)).size, 20);
  t.true(journal.every((e) => dataOf(e.envelope).success));

  // Scale of the SD-card writes (docs/durability.md): AOF bytes and block-layer bytes per exchange.
  const ioAfter = await readFile(`/proc/${server.pid}/io`, 'utf8').catch(() => '');
  const writeBytes = (io: string) => Number(/write_bytes: (\d+)/.exec(io)?.[1] ?? NaN);
  t.log(`AOF now ${await aofBytes(dir)} B (was ${aofBefore} B before 20 exchanges and a restart); second server wrote ${writeBytes(ioAfter)} B to the block layer (first: ${writeBytes(ioBefore)} B at start)`);
});
