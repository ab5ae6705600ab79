/**
 * Repeats while the verification pool is busy (docs/commands.md#repeats): a
 * repeat of a handled command gets the original result, never BUSY; a
 * changed payload under a used id is still verified; BUSY never spends an id
 * nor stands in for a result the original will give.
 */
import test from 'ava';
import { fixedClock } from '../../shared/clock.js';
import { createCommandVerifier, type CommandVerifier } from '../../workers/business/auth/pool.js';
import { harness, keyPair, signed } from './commands-harness.js';

/** A verifier the test switches between a healthy and a stuck (BUSY) pool. */
function switchable(publicKeyPem: string) {
  const healthy = createCommandVerifier({ publicKeyPem });
  const stuck = createCommandVerifier({ publicKeyPem, taskTimeoutMs: 0 });
  const state = { busy: false };
  const verifier: CommandVerifier = { check: (task) => (state.busy ? stuck : healthy).check(task), close: async () => undefined };
  return { verifier, state, close: () => Promise.all([healthy.close(), stuck.close()]) };
}

test('an identical repeat gets the original result while the pool is BUSY, even late; nothing is paid again', async (t) => {
  const { publicKeyPem, privateKey } = keyPair();
  const pool = switchable(publicKeyPem);
  const clock = fixedClock(Date.now());
  const h = await harness(pool.verifier, { clock });
  try {
    const topic = h.topic('coin_dispense');
    const body = signed(topic, { command_id: 'REP_1', command_type: 'coin_dispense', data: { coins_to_dispense: 3 } }, privateKey);
    const original = await h.run('coin_dispense', body);
    t.like(original, { outcome: 'success' });
    t.is(h.machine.paid, 3);

    pool.state.busy = true;
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
  } finally {
    await h.close();
    await pool.close();
  }
});

test('a changed payload under a used id is verified as before; BUSY for it is not answered', async (t) => {
  const { publicKeyPem, privateKey } = keyPair();
  const pool = switchable(publicKeyPem);
  const h = await harness(pool.verifier);
  try {
    const topic = h.topic('coin_dispense');
    const body = signed(topic, { command_id: 'REP_2', command_type: 'coin_dispense', data: { coins_to_dispense: 2 } }, privateKey);
    t.like(await h.run('coin_dispense', body), { outcome: 'success' });
    const forged = { ...body, data: { coins_to_dispense: 50 } };
    t.like(await h.run('coin_dispense', forged), { outcome: 'refused', code: 'UNAUTHENTICATED' });
    pool.state.busy = true;
    t.like(await h.run('coin_dispense', forged), { outcome: 'refused', code: 'BUSY', result: null });
    const results = await h.results();
    t.deepEqual(results.map((r) => r.result.error_code), [undefined, 'UNAUTHENTICATED'], 'no BUSY answer for a used id');
    t.is(h.machine.paid, 2);
  } finally {
    await h.close();
    await pool.close();
  }
});

test('cut short between payout and result: a BUSY repeat is not answered, the resumed run answers what was paid', async (t) => {
  const { publicKeyPem, privateKey } = keyPair();
  const pool = switchable(publicKeyPem);
  const h = await harness(pool.verifier);
  try {
    const topic = h.topic('coin_dispense');
    const body = signed(topic, { command_id: 'REP_3', command_type: 'coin_dispense', data: { coins_to_dispense: 4 } }, privateKey);
    t.like(await h.run('coin_dispense', body), { outcome: 'success' });
    // The crash: the payout happened, the result was never stored (the claim stays).
    await h.redis.set(h.env.keys.command('REP_3'), JSON.stringify({ state: 'executing', jobId: 'job-crashed', at: Date.now() }));
    const before = (await h.results()).length;
    pool.state.busy = true;
    t.like(await h.run('coin_dispense', body), { outcome: 'refused', code: 'BUSY', result: null });
    t.is((await h.results()).length, before, 'no BUSY answer while the original has not answered');
    t.regex((await h.redis.get(h.env.keys.command('REP_3'))) ?? '', /"executing"/, 'BUSY stored nothing');
    pool.state.busy = false;
    const resumed = await h.run('coin_dispense', body);
    t.like(resumed, { outcome: 'success', result: { result: { coins_dispensed: 4 } } });
    t.is(h.machine.paid, 4, 'paid once');
  } finally {
    await h.close();
    await pool.close();
  }
});
