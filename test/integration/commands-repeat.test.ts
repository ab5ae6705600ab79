/**
 * Repeats while the verification pool is busy (docs/commands.md#repeats): a
 * repeat of a handled command gets the original result, never BUSY; a
 * changed payload under a used id is still verified; BUSY never spends an id
 * nor stands in for a result the original will give.
 */
import test, { type ExecutionContext } from 'ava';
import { fixedClock, type Clock } from '../../shared/clock.js';
import { createCommandVerifier, type CommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { commandsHarness, keyPair, signed } from '../helpers/commands-harness.js';

/**
 * The commands harness with a key and a verifier the test switches between a healthy
 * and a stuck (BUSY) pool; `dispense` signs a coin_dispense of `coins`.
 */
async function rig(t: ExecutionContext, opts: { clock?: Clock } = {}) {
  const { publicKeyPem, privateKey } = keyPair();
  const healthy = createCommandVerifier({ publicKeyPem });
  const stuck = createCommandVerifier({ publicKeyPem, taskTimeoutMs: 0 });
  const pool = { busy: false };
  const verifier: CommandVerifier = { check: (task) => (pool.busy ? stuck : healthy).check(task), close: async () => undefined };
  const h = await commandsHarness(verifier, opts);
  t.teardown(async () => {
    await h.close();
    await Promise.all([healthy.close(), stuck.close()]);
  });
  const dispense = (id: string, coins: number) =>
    signed(h.topic('coin_dispense'), { command_id: id, command_type: 'coin_dispense', data: { coins_to_dispense: coins } }, privateKey);
  return { h, pool, dispense };
}

test('an identical repeat gets the original result while the pool is BUSY, even late; nothing is paid again', async (t) => {
  const clock = fixedClock(Date.now());
  const { h, pool, dispense } = await rig(t, { clock });
  const body = dispense('REP_1', 3);
  const original = await h.run('coin_dispense', body);
  t.like(original, { outcome: 'success' });
  t.is(h.machine.paid, 3);

  pool.busy = true;
  const repeat = await h.run('coin_dispense', structuredClone(body));
  t.like(repeat, { outcome: 'duplicate' });
  t.deepEqual(repeat.result, original.result, 'the original result, not BUSY');
  clock.advance(3_600_000);
  t.deepEqual((await h.run('coin_dispense', structuredClone(body))).result, original.result, 'a late repeat too, not EXPIRED');
  const results = await h.results();
  t.is(results.length, 3);
  for (const r of results) t.deepEqual(r, original.result);
  t.is(h.machine.paid, 3);
  t.is(h.machine.dispenseCalls, 1, 'a repeat answered from the stored result reaches no handler');
});

test('a changed payload under a used id is verified as before; BUSY for it is not answered', async (t) => {
  const { h, pool, dispense } = await rig(t);
  const body = dispense('REP_2', 2);
  t.like(await h.run('coin_dispense', body), { outcome: 'success' });
  const forged = { ...body, data: { coins_to_dispense: 50 } };
  t.like(await h.run('coin_dispense', forged), { outcome: 'refused', code: 'UNAUTHENTICATED' });
  pool.busy = true;
  t.like(await h.run('coin_dispense', forged), { outcome: 'refused', code: 'BUSY', result: null });
  const results = await h.results();
  t.deepEqual(results.map((r) => r.result.error_code), [undefined, 'UNAUTHENTICATED'], 'no BUSY answer for a used id');
  t.is(h.machine.paid, 2);
});

test('cut short between payout and result: a BUSY repeat is not answered, the resumed run answers what was paid', async (t) => {
  const { h, pool, dispense } = await rig(t);
  const body = dispense('REP_3', 4);
  t.like(await h.run('coin_dispense', body), { outcome: 'success' });
  // The crash: the payout happened, the result was never stored (the claim stays).
  await h.redis.set(h.env.keys.command('REP_3'), JSON.stringify({ state: 'executing', jobId: 'job-crashed', at: Date.now() }));
  const before = (await h.results()).length;
  pool.busy = true;
  t.like(await h.run('coin_dispense', body), { outcome: 'refused', code: 'BUSY', result: null });
  t.is((await h.results()).length, before, 'no BUSY answer while the original has not answered');
  t.regex((await h.redis.get(h.env.keys.command('REP_3'))) ?? '', /"executing"/, 'BUSY stored nothing');
  pool.busy = false;
  const resumed = await h.run('coin_dispense', body);
  t.like(resumed, { outcome: 'success', result: { result: { coins_dispensed: 4 } } });
  t.is(h.machine.paid, 4, 'paid once');
});
