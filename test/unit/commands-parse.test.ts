/**
 * The command parser and the shape gate (docs/protocol.md#7-commands), including
 * fast-check properties: no input makes them throw, anything accepted is
 * well-typed, and a coin count is accepted only as an integer in range.
 */
import test from 'ava';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { signCommand, signingInput, verifyCommandSignature } from '../../shared/command-signature.js';
import { commandTypes } from '../../shared/topics.js';
import { checkCommand } from '../../workers/business/commands/auth/check-command.js';
import { commandLimits, readableCommandId, shapeProblem, wantsResult } from '../../workers/business/commands/limits.js';
import { expiryError } from '../../workers/business/commands/expiry.js';
import { MAX_COINS_PER_COMMAND, parseCommand } from '../../workers/business/commands/parse.js';

const dispense = (coins: unknown, extra: Record<string, unknown> = {}) => ({
  command_id: 'CMD_1',
  command_type: 'coin_dispense',
  data: { coins_to_dispense: coins },
  ...extra,
});

test("the guide's test command parses, requires_ack defaulting to true", (t) => {
  const out = parseCommand('coin_dispense', { command_id: 'TEST_001', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } });
  t.true(out.ok);
  if (out.ok) t.like(out.command, { command_id: 'TEST_001', requires_ack: true, data: { coins_to_dispense: 5 } });
});

test('command dialects: null means absent, numeric strings are numbers, other strings are refused naming the field', (t) => {
  const out = parseCommand('coin_dispense', {
    command_id: 'TEST_001', command_type: 'coin_dispense', timestamp: null, requires_ack: null, priority: null, signature: null,
    data: { coins_to_dispense: '5', timeout_seconds: null, reason: null, operator_account: null, coin_value: '10' },
  });
  t.like(out, { ok: true, command: { requires_ack: true, data: { coins_to_dispense: 5, coin_value: 10 } } });
  if (out.ok) t.false('timestamp' in out.command || 'signature' in out.command || 'timeout_seconds' in out.command.data);
  t.like(parseCommand('lock', { command_id: 'L', command_type: 'lock', data: { action: 'lock', duration_minutes: '30', operator_id: null, message_display: null } }), {
    ok: true, command: { data: { duration_minutes: 30 } },
  });
  t.like(parseCommand('restart', { command_id: 'R', command_type: 'restart', data: { restart_type: null, delay_seconds: '0', timeout_seconds: '60' } }), {
    ok: true, command: { data: { restart_type: 'soft', delay_seconds: 0, timeout_seconds: 60 } },
  });
  t.like(parseCommand('query', { command_id: 'Q', command_type: 'query', timestamp: '1765000000', data: null }), { ok: true, command: { timestamp: 1_765_000_000, data: { query_type: 'full_status' } } });
  for (const [field, body] of [
    ['data.coins_to_dispense', dispense('five')],
    ['data.coins_to_dispense', dispense(' ')],
    ['data.coins_to_dispense', dispense(' 5')],
    ['data.coins_to_dispense', dispense('0x10')],
    ['data.coins_to_dispense', dispense(null)],
    ['data.timeout_seconds', dispense(5, { data: { coins_to_dispense: 5, timeout_seconds: '1e3' } })],
    ['timestamp', dispense(5, { timestamp: 'yesterday' })],
  ] as const) {
    const r = parseCommand('coin_dispense', body);
    t.like(r, { ok: false, code: 'INVALID_COMMAND' }, field);
    if (!r.ok) t.true(r.detail.startsWith(`${field}: `), r.detail);
  }
});

test('EXPIRED states the measured clock difference; an 8-hour shift is named', (t) => {
  const now = 1_765_000_000_000;
  const cmd = (ts: number) => {
    const r = parseCommand('lock', { command_id: 'L', command_type: 'lock', timestamp: ts, data: { action: 'lock' } });
    if (!r.ok) throw new Error(r.detail);
    return r.command;
  };
  const shifted = expiryError(cmd(now / 1000 + 8 * 3600), now, now, 300)!;
  t.is(shifted.code, 'EXPIRED');
  t.like(shifted.toResult(), { error_code: 'EXPIRED', clock_difference_seconds: -28_800, max_age_seconds: 300 });
  t.regex(shifted.message, /-28800 s; about 8 hours/);
  t.like(expiryError(cmd(now / 1000 - 400), now, now, 300)!.toResult(), { clock_difference_seconds: 400 });
  t.is(expiryError(cmd(now / 1000 - 10), now, now, 300), null);
});

test('refusals name the field', (t) => {
  t.like(parseCommand('coin_dispense', dispense(1.5)), { ok: false, code: 'INVALID_COMMAND' });
  t.regex((parseCommand('coin_dispense', dispense('5x')) as { detail: string }).detail, /^data\.coins_to_dispense: /);
  t.regex((parseCommand('coin_dispense', { ...dispense(5), data: { coins_to_dispense: 5, coin_value: 50 } }) as { detail: string }).detail, /^data\.coin_value: /);
  t.regex((parseCommand('coin_dispense', { command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }) as { detail: string }).detail, /^command_id: /);
  t.regex((parseCommand('lock', { command_id: 'L', command_type: 'lock', data: { action: 'open' } }) as { detail: string }).detail, /^data\.action: /);
  t.regex((parseCommand('query', { command_id: 'Q', command_type: 'query', data: { query_type: 'transactions', limit: 101 } }) as { detail: string }).detail, /^data\.limit: /);
});

test('command types: unknown → UNKNOWN_COMMAND, not matching the topic → INVALID_COMMAND', (t) => {
  t.like(parseCommand('coin_dispense', { command_id: 'X', command_type: 'self_destruct' }), { ok: false, code: 'UNKNOWN_COMMAND' });
  t.like(parseCommand('self_destruct', { command_id: 'X', command_type: 'self_destruct' }), { ok: false, code: 'UNKNOWN_COMMAND' });
  t.like(parseCommand('lock', dispense(5)), { ok: false, code: 'INVALID_COMMAND' });
  t.like(parseCommand('coin_dispense', { command_id: 'X' }), { ok: false, code: 'INVALID_COMMAND', detail: 'command_type: required' });
});

test('defaults: restart soft now, query full_status, lock fractional minutes allowed', (t) => {
  const r = parseCommand('restart', { command_id: 'R', command_type: 'restart' });
  t.true(r.ok && r.command.command_type === 'restart' && r.command.data.restart_type === 'soft' && r.command.data.delay_seconds === 0);
  const q = parseCommand('query', { command_id: 'Q', command_type: 'query', data: {} });
  t.true(q.ok && q.command.command_type === 'query' && q.command.data.query_type === 'full_status' && q.command.data.limit === 100);
  const l = parseCommand('lock', { command_id: 'L', command_type: 'lock', data: { action: 'lock', duration_minutes: 0.05 } });
  t.true(l.ok);
});

test('shape gate: size, depth, breadth and prototype keys, without recursion', (t) => {
  t.is(shapeProblem({ a: 1 }, 100), null);
  t.regex(shapeProblem({ a: 1 }, commandLimits.maxBytes + 1)!, /exceeds/);
  let deep: unknown = 1;
  for (let i = 0; i < commandLimits.maxDepth; i++) deep = { x: deep };
  t.is(shapeProblem(deep, 100), null, 'maxDepth levels of objects pass');
  t.regex(shapeProblem({ x: deep }, 100)!, /nested deeper/);
  let veryDeep: unknown = [];
  for (let i = 0; i < 100_000; i++) veryDeep = [veryDeep];
  t.regex(shapeProblem({ command_id: 'D', data: veryDeep }, 200_000)!, /exceeds|nested deeper/);
  t.regex(shapeProblem({ command_id: 'D', data: veryDeep }, 100)!, /nested deeper/);
  t.regex(shapeProblem({ a: Array(commandLimits.maxValues + 1).fill(0) }, 100)!, /more than/);
  t.regex(shapeProblem(JSON.parse('{"data":{"__proto__":{"x":1}}}'), 100)!, /data\.__proto__: forbidden key/);
  t.regex(shapeProblem({ data: { constructor: { prototype: 1 } } }, 100)!, /forbidden key/);
  t.regex(shapeProblem([1], 10)!, /JSON object/);
});

test('readable command id and ACK wish', (t) => {
  t.is(readableCommandId({ command_id: 'A' }), 'A');
  t.is(readableCommandId({ command_id: '' }), null);
  t.is(readableCommandId({ command_id: 5 }), null);
  t.is(readableCommandId(JSON.parse('{"__proto__":{"command_id":"P"}}')), null, 'never read through a prototype');
  t.true(wantsResult({}));
  t.true(wantsResult({ requires_ack: 'false' }));
  t.false(wantsResult({ requires_ack: false }));
});

const anyJson = fc.jsonValue({ maxDepth: 5 });
const anyBody = fc.oneof(
  anyJson,
  fc.record({ command_id: fc.oneof(fc.string(), anyJson), command_type: fc.oneof(fc.constantFrom(...commandTypes), fc.string()), data: anyJson }, { requiredKeys: [] }),
  fc.record({ command_id: fc.string({ minLength: 1 }), command_type: fc.constant('coin_dispense'), data: fc.record({ coins_to_dispense: anyJson }) }),
);

test('property: the parser never throws, and what it accepts is well-typed', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...commandTypes, 'ack', 'foo', '__proto__'), anyBody, (topicType, body) => {
      if (shapeProblem(body, 0) !== null) return true;
      const out = parseCommand(topicType, body);
      if (!out.ok) return out.code === 'INVALID_COMMAND' || out.code === 'UNKNOWN_COMMAND';
      const c = out.command;
      if (c.command_type !== topicType || typeof c.command_id !== 'string' || typeof c.requires_ack !== 'boolean') return false;
      if (c.command_type === 'coin_dispense') {
        const coins = c.data.coins_to_dispense;
        return Number.isInteger(coins) && coins >= 1 && coins <= MAX_COINS_PER_COMMAND;
      }
      return true;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: a coin count is accepted exactly when it is an integer in 1..MAX', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.double(), fc.integer(), fc.bigInt().map(String), fc.string(), fc.constant(null), fc.boolean()), (coins) => {
      const out = parseCommand('coin_dispense', dispense(coins));
      // A numeric string counts as its number (docs/cloud-interop.md).
      const n = typeof coins === 'string' && /^-?\d{1,15}(\.\d{1,9})?$/.test(coins) ? Number(coins) : coins;
      const valid = typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_COINS_PER_COMMAND;
      return out.ok === valid && (out.ok || out.detail.startsWith('data.coins_to_dispense'));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: the shape gate never throws on any value', (t) => {
  fc.assert(
    fc.property(fc.anything({ maxDepth: 12, withNullPrototype: true, withObjectString: true }), fc.nat(), (v, bytes) => {
      const p = shapeProblem(v, bytes);
      return p === null || typeof p === 'string';
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

const keys = generateKeyPairSync('ed25519');
const topic = 'coinerex/commands/CCM_001/coin_dispense';

test('property: a signed command verifies, and any change to topic or content breaks it', (t) => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), fc.string({ minLength: 1 }), (fields, extra) => {
      const command: Record<string, unknown> = Object.fromEntries(Object.entries(fields).filter(([k]) => k !== 'signature'));
      command.signature = signCommand(topic, command, keys.privateKey);
      if (!verifyCommandSignature(topic, command, keys.publicKey)) return false;
      if (verifyCommandSignature(`${topic}x`, command, keys.publicKey)) return false;
      const changed = { ...command, [`k${extra}`]: extra };
      return !verifyCommandSignature(topic, changed, keys.publicKey);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('signing input: topic, newline, JCS of the command without its signature', (t) => {
  const bytes = signingInput('a/b', { b: 2, a: 'é', signature: 'zzz', n: 1e21 });
  t.is(bytes.toString('utf8'), 'a/b\n{"a":"é","b":2,"n":1e+21}');
});

test('checkCommand: unsigned passes without a key; with a key timestamp and signature are required', (t) => {
  const body = { ...dispense(5), timestamp: 1757694600 };
  t.like(checkCommand({ topic, topicType: 'coin_dispense', body }, null), { ok: true, authenticated: false });
  t.like(checkCommand({ topic, topicType: 'coin_dispense', body }, keys.publicKey), { ok: false, code: 'UNAUTHENTICATED' });
  const signedBody = { ...body, signature: signCommand(topic, body, keys.privateKey) };
  t.like(checkCommand({ topic, topicType: 'coin_dispense', body: signedBody }, keys.publicKey), { ok: true, authenticated: true });
  const noTs = dispense(5);
  const signedNoTs = { ...noTs, signature: signCommand(topic, noTs, keys.privateKey) };
  t.like(checkCommand({ topic, topicType: 'coin_dispense', body: signedNoTs }, keys.publicKey), { ok: false, code: 'UNAUTHENTICATED', detail: 'timestamp: required on signed commands' });
});
