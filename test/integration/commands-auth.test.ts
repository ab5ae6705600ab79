/**
 * Command authentication (docs/protocol.md#command-authentication): with a key configured, anything
 * not signed for exactly this topic and content is refused UNAUTHENTICATED
 * and nothing executes; a valid command delivered many times pays once and
 * every delivery gets the original result.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { createCommandVerifier, type CommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { fixedClock } from '../../shared/clock.js';
import { topics } from '../../shared/topics.js';
import { commandsHarness, keyPair, nowSeconds, signed, type CommandsHarness } from '../helpers/commands-harness.js';

const { publicKeyPem, privateKey } = keyPair();
let verifier: CommandVerifier;
test.before(() => {
  verifier = createCommandVerifier({ publicKeyPem });
});
test.after.always(() => verifier.close());

async function withHarness(fn: (h: CommandsHarness) => Promise<void>): Promise<void> {
  const h = await commandsHarness(verifier);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

const dispense = (id: string, coins = 5, extra: Record<string, unknown> = {}) => ({
  command_id: id,
  command_type: 'coin_dispense',
  requires_ack: true,
  data: { coins_to_dispense: coins, reason: 'test', operator_account: 'op1' },
  ...extra,
});

/** Asserts the refusal: code, a failed result naming the command, nothing paid, id not used up. */
async function assertRefused(t: import('ava').ExecutionContext, h: CommandsHarness, id: string, out: Awaited<ReturnType<CommandsHarness['run']>>, code: string) {
  t.is(out.outcome, 'refused');
  t.is((out as { code: string }).code, code);
  const results = await h.results();
  t.is(results.length, 1);
  t.like(results[0], { ack_command_id: id, status: 'failed', result: { error_code: code } });
  t.is(h.machine.paid, 0);
  t.is(h.machine.dispenseCalls, 0);
  t.is(await h.redis.exists(h.env.keys.command(id)), 0, 'a refusal before the claim does not use up the id');
}

test('unsigned command: UNAUTHENTICATED, nothing executed', (t) =>
  withHarness(async (h) => {
    await assertRefused(t, h, 'C1', await h.run('coin_dispense', dispense('C1', 5, { timestamp: nowSeconds() })), 'UNAUTHENTICATED');
  }));

test('signed with another key: UNAUTHENTICATED', (t) =>
  withHarness(async (h) => {
    const other = generateKeyPairSync('ed25519').privateKey;
    await assertRefused(t, h, 'C2', await h.run('coin_dispense', signed(h.topic('coin_dispense'), dispense('C2'), other)), 'UNAUTHENTICATED');
  }));

test('content changed after signing: UNAUTHENTICATED', (t) =>
  withHarness(async (h) => {
    const body = signed(h.topic('coin_dispense'), dispense('C3', 5), privateKey);
    (body.data as Record<string, unknown>).coins_to_dispense = 150;
    await assertRefused(t, h, 'C3', await h.run('coin_dispense', body), 'UNAUTHENTICATED');
  }));

test('garbage signature: UNAUTHENTICATED', (t) =>
  withHarness(async (h) => {
    const body = { ...dispense('C3b'), timestamp: nowSeconds(), signature: 'not base64 at all' };
    await assertRefused(t, h, 'C3b', await h.run('coin_dispense', body), 'UNAUTHENTICATED');
  }));

test('signed for another device: UNAUTHENTICATED', (t) =>
  withHarness(async (h) => {
    const elsewhere = topics(h.env.config.topicPrefix, 'OTHER_DEVICE').command('coin_dispense');
    await assertRefused(t, h, 'C4', await h.run('coin_dispense', signed(elsewhere, dispense('C4'), privateKey)), 'UNAUTHENTICATED');
  }));

test('signed for another command type: refused either way', (t) =>
  withHarness(async (h) => {
    // A captured query replayed on the dispense topic: its command_type gives it away.
    const query = signed(h.topic('query'), { command_id: 'C5', command_type: 'query', data: { query_type: 'accounting' } }, privateKey);
    await assertRefused(t, h, 'C5', await h.run('coin_dispense', query), 'INVALID_COMMAND');
  }));

test('signed over another command type topic with matching body: UNAUTHENTICATED', (t) =>
  withHarness(async (h) => {
    // The body claims coin_dispense, but the signature binds the restart topic.
    const body = signed(h.topic('restart'), dispense('C6'), privateKey);
    await assertRefused(t, h, 'C6', await h.run('coin_dispense', body), 'UNAUTHENTICATED');
  }));

test('signed without timestamp: UNAUTHENTICATED', (t) =>
  withHarness(async (h) => {
    const body = signed(h.topic('coin_dispense'), dispense('C7'), privateKey);
    delete body.timestamp;
    await assertRefused(t, h, 'C7', await h.run('coin_dispense', body), 'UNAUTHENTICATED');
  }));

test('expired: older than 300 s, past timeout_seconds, or far in the future', (t) =>
  withHarness(async (h) => {
    const old = signed(h.topic('coin_dispense'), dispense('C8', 5, { timestamp: nowSeconds() - 301 }), privateKey);
    t.like(await h.run('coin_dispense', old), { outcome: 'refused', code: 'EXPIRED' });
    const lapsed = signed(
      h.topic('coin_dispense'),
      { ...dispense('C9'), timestamp: nowSeconds() - 20, data: { coins_to_dispense: 5, timeout_seconds: 10 } },
      privateKey,
    );
    t.like(await h.run('coin_dispense', lapsed), { outcome: 'refused', code: 'EXPIRED' });
    const future = signed(h.topic('coin_dispense'), dispense('C10', 5, { timestamp: nowSeconds() + 3600 }), privateKey);
    t.like(await h.run('coin_dispense', future), { outcome: 'refused', code: 'EXPIRED' });
    t.deepEqual((await h.results()).map((r) => [r.ack_command_id, r.result.error_code]), [
      ['C8', 'EXPIRED'],
      ['C9', 'EXPIRED'],
      ['C10', 'EXPIRED'],
    ]);
    t.is(h.machine.paid, 0);
  }));

test('ISO 8601 timestamp is accepted when signed', (t) =>
  withHarness(async (h) => {
    const body = signed(h.topic('coin_dispense'), dispense('C11', 3, { timestamp: new Date().toISOString() }), privateKey);
    t.like(await h.run('coin_dispense', body), { outcome: 'success' });
    t.is(h.machine.paid, 3);
  }));

test('a valid signed dispense delivered 5 times executes once; all 5 get the original result', (t) =>
  withHarness(async (h) => {
    const body = signed(h.topic('coin_dispense'), dispense('CMD_20250912_001', 12), privateKey);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await h.run('coin_dispense', structuredClone(body)));
    t.deepEqual(outcomes.map((o) => o.outcome), ['success', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    t.is(h.machine.paid, 12);
    t.is(h.machine.dispenseCalls, 1);
    const results = await h.results();
    t.is(results.length, 5);
    for (const r of results) t.deepEqual(r, results[0]);
    t.like(results[0], {
      device_id: h.env.deviceId,
      ack_command_id: 'CMD_20250912_001',
      command_type: 'coin_dispense',
      status: 'success',
      result: { coins_dispensed: 12, coins_remaining: 988 },
    });
    t.is(await h.metric('commands_total{outcome="success",type="coin_dispense"}'), 1);
    t.is(await h.metric('commands_total{outcome="duplicate",type="coin_dispense"}'), 4);
  }));

test('a forged command cannot use up a genuine command id', (t) =>
  withHarness(async (h) => {
    t.like(await h.run('coin_dispense', dispense('C12', 5, { timestamp: nowSeconds() })), { outcome: 'refused', code: 'UNAUTHENTICATED' });
    t.like(await h.run('coin_dispense', signed(h.topic('coin_dispense'), dispense('C12', 5), privateKey)), { outcome: 'success' });
    t.is(h.machine.paid, 5);
  }));

test('bad signatures beyond COINEREX_UNAUTHENTICATED_ANSWER_RATE are refused unanswered; a signed command is still answered', async (t) => {
  const clock = fixedClock(Date.now());
  const h = await commandsHarness(verifier, { clock, env: { COINEREX_UNAUTHENTICATED_ANSWER_RATE: '1' } });
  try {
    const other = keyPair().privateKey;
    const forge = (id: string) => h.run('coin_dispense', signed(h.topic('coin_dispense'), dispense(id), other));
    // Rate 1: a burst of 5 answers, then none until the bucket refills.
    for (let i = 0; i < 8; i++) {
      const out = await forge(`F${i}`);
      t.like(out, { outcome: 'refused', code: 'UNAUTHENTICATED', commandId: `F${i}` });
      t.is(out.result?.ack_command_id, i < 5 ? `F${i}` : undefined);
    }
    t.deepEqual((await h.results()).map((r) => r.ack_command_id), ['F0', 'F1', 'F2', 'F3', 'F4']);
    t.is(await h.metric('commands_unanswered_total{code="UNAUTHENTICATED"}'), 3);
    t.is(await h.metric('commands_total{outcome="UNAUTHENTICATED",type="coin_dispense"}'), 8);
    t.like(await h.run('coin_dispense', signed(h.topic('coin_dispense'), dispense('C15', 3), privateKey)), { outcome: 'success' });
    clock.advance(1_000);
    t.is((await forge('F8')).result?.ack_command_id, 'F8');
    t.is((await forge('F9')).result, null);
    t.deepEqual((await h.results()).map((r) => r.ack_command_id), ['F0', 'F1', 'F2', 'F3', 'F4', 'C15', 'F8']);
    t.is(h.machine.paid, 3);
  } finally {
    await h.close();
  }
});

test('a repeat arriving after the expiry window still gets the original result, and pays nothing', async (t) => {
  const clock = fixedClock(Date.now());
  const h = await commandsHarness(verifier, { clock });
  try {
    const body = signed(h.topic('coin_dispense'), dispense('C13', 4), privateKey);
    t.like(await h.run('coin_dispense', body), { outcome: 'success' });
    clock.advance(3_600_000);
    // An hour later the same command is answered from its record; a new one of that age has expired.
    t.like(await h.run('coin_dispense', body), { outcome: 'duplicate' });
    t.like(await h.run('coin_dispense', signed(h.topic('coin_dispense'), dispense('C14', 4, { timestamp: body.timestamp }), privateKey)), {
      outcome: 'refused',
      code: 'EXPIRED',
    });
    t.is(h.machine.paid, 4);
  } finally {
    await h.close();
  }
});
