/**
 * Hostile payloads (docs/commands.md#limits): over a hundred malformed, oversized, deeply
 * nested or prototype-polluting commands crash nothing, pay nothing, change
 * nothing, and each gets a `failed` result exactly when its command_id is
 * readable and it did not opt out of the ACK. Invalid JSON never gets here
 * (the mqtt app drops it), so every payload is a parsed JSON value.
 */
import test from 'ava';
import { commandErrorCodes } from '../../shared/errors.js';
import { createCommandVerifier, type CommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { commandsHarness, keyPair, nowSeconds, type CommandsHarness } from '../helpers/commands-harness.js';

interface Case {
  name: string;
  /** The topic's last segment. */
  topic: string;
  body: unknown;
  /** Payload size when it differs from the JSON text (deep values cannot be stringified). */
  bytes?: number;
}

const id = (n: number) => `H_${n}`;
let n = 0;
const dispense = (data: unknown, extra: Record<string, unknown> = {}): Case => {
  n++;
  return { name: `dispense data ${short(data)} ${short(extra)}`, topic: 'coin_dispense', body: { command_id: id(n), command_type: 'coin_dispense', data, ...extra } };
};
const command = (topic: string, body: unknown, name = short(body)): Case => ({ name: `${topic}: ${name}`, topic, body });
const short = (v: unknown) => {
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 60 ? `${s.slice(0, 60)}…` : s;
  } catch {
    return '<deep>';
  }
};

function nest(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { x: v };
  return v;
}
function nestArrays(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const badCoins: unknown[] = [
  -1, 0, -0, 1.5, 0.1, -0.5, 2.000001, 1e6, 1e300, -1e300, 2 ** 53, 2 ** 53 + 2, 100_001, Number.MAX_SAFE_INTEGER,
  // "5" and "05" are 5 (docs/cloud-interop.md), so not here.
  'five', '', ' 5', '0x10', '1e3', null, true, false, [], [5], {}, { $gt: 0 }, { valueOf: 5 },
];
const cases: Case[] = [
  ...badCoins.map((coins) => dispense({ coins_to_dispense: coins })),
  // Over the configured limits: refused with LIMIT_EXCEEDED, still nothing paid.
  dispense({ coins_to_dispense: 201 }),
  dispense({ coins_to_dispense: 10_000 }),
  // coin_value must be 10 when present ("10" and null are accepted dialects).
  ...[50, 5, '1O', 10.5, 0, -10].map((v) => dispense({ coins_to_dispense: 5, coin_value: v })),
  // Missing or mistyped parts.
  dispense(undefined),
  dispense(null),
  dispense([]),
  dispense('coins'),
  dispense(5),
  dispense({}),
  dispense({ coins: 5 }),
  dispense({ coins_to_dispense: 5, timeout_seconds: -1 }),
  dispense({ coins_to_dispense: 5, timeout_seconds: 'soon' }),
  dispense({ coins_to_dispense: 5, reason: 'x'.repeat(600) }),
  dispense({ coins_to_dispense: 5, operator_account: { name: 'root' } }),
  dispense({ coins_to_dispense: 5, reason: 42 }),
  ...['yesterday', -5, {}, [], '2025-13-45T00:00:00Z', true, 'now', 0, 1].map((ts) => dispense({ coins_to_dispense: 5 }, { timestamp: ts })),
  ...['false', 0, 1, 'yes', []].map((ack) => dispense({ coins_to_dispense: 5 }, { requires_ack: ack })),
  // requires_ack false: refused silently.
  dispense({ coins_to_dispense: -3 }, { requires_ack: false }),
  dispense({ coins_to_dispense: 5 }, { signature: 12345 }),
  dispense({ coins_to_dispense: 5 }, { priority: { level: 'high' } }),
  // Unreadable or absent command ids: refused without a result.
  command('coin_dispense', { command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }),
  command('coin_dispense', { command_id: 42, command_type: 'coin_dispense', data: { coins_to_dispense: -5 } }),
  command('coin_dispense', { command_id: '', command_type: 'coin_dispense', data: { coins_to_dispense: 'x' } }),
  command('coin_dispense', { command_id: null, command_type: 'coin_dispense', data: {} }),
  command('coin_dispense', { command_id: ['H'], command_type: 'coin_dispense', data: {} }),
  command('coin_dispense', { command_id: 'x'.repeat(5000), command_type: 'coin_dispense', data: { coins_to_dispense: 1.5 } }, 'id of 5000 chars'),
  // Readable but invalid ids: refused with a result.
  command('coin_dispense', { command_id: 'has space', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }),
  command('coin_dispense', { command_id: 'emoji_💰', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }),
  command('coin_dispense', { command_id: 'x'.repeat(150), command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }, 'id of 150 chars'),
  // Not an object at all.
  ...[null, [], 'coin_dispense', 42, true, [{ command_id: 'H_arr', command_type: 'coin_dispense' }]].map((b) => command('coin_dispense', b)),
  // Command types.
  command('coin_dispense', { command_id: 'T1', data: { coins_to_dispense: 5 } }, 'no command_type'),
  command('coin_dispense', { command_id: 'T2', command_type: 7, data: { coins_to_dispense: 5 } }),
  command('coin_dispense', { command_id: 'T3', command_type: 'self_destruct', data: { coins_to_dispense: 5 } }),
  command('coin_dispense', { command_id: 'T4', command_type: 'COIN_DISPENSE', data: { coins_to_dispense: 5 } }),
  command('coin_dispense', { command_id: 'T5', command_type: 'lock', data: { action: 'lock' } }),
  command('lock', { command_id: 'T6', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }),
  command('self_destruct', { command_id: 'T7', command_type: 'self_destruct', data: {} }),
  command('ack', { command_id: 'T8', command_type: 'ack', data: {} }),
  command('x'.repeat(300), { command_id: 'T9', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } }, 'topic type of 300 chars'),
  command('__proto__', { command_id: 'T10', command_type: '__proto__', data: {} }),
  command('toString', { command_id: 'T11', command_type: 'toString', data: {} }),
  // Size and depth.
  {
    name: '1 MB payload',
    topic: 'coin_dispense',
    body: { command_id: 'S1', command_type: 'coin_dispense', data: { coins_to_dispense: 5, reason: 'x'.repeat(1024 * 1024) } },
  },
  { name: '1 MB payload without ACK', topic: 'coin_dispense', body: { command_id: 'S2', command_type: 'coin_dispense', requires_ack: false, data: { reason: 'x'.repeat(1024 * 1024) } } },
  { name: '10 000 levels in data', topic: 'coin_dispense', body: { command_id: 'S3', command_type: 'coin_dispense', data: nest(10_000, 5) }, bytes: 60_000 },
  { name: '10 000 nested arrays', topic: 'coin_dispense', body: nestArrays(10_000), bytes: 20_000 },
  { name: '10 000 levels at top', topic: 'query', body: nest(10_000, { command_id: 'S4' }), bytes: 60_000 },
  { name: '9 levels in a small payload', topic: 'config', body: { command_id: 'S5', command_type: 'config', data: { bonus_table: nest(8, 1) } } },
  {
    name: '2000 keys',
    topic: 'config',
    body: { command_id: 'S6', command_type: 'config', data: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i])) },
  },
  { name: '20 000-element array', topic: 'query', body: { command_id: 'S7', command_type: 'query', data: { query_type: 'transactions', limit: Array(20_000).fill(1) } } },
  // Prototype pollution.
  ...[
    '{"command_id":"P1","command_type":"coin_dispense","__proto__":{"polluted":true},"data":{"coins_to_dispense":5}}',
    '{"command_id":"P2","command_type":"coin_dispense","data":{"coins_to_dispense":5,"__proto__":{"polluted":true}}}',
    '{"command_id":"P3","command_type":"config","data":{"__proto__":{"polluted":true}}}',
    '{"command_id":"P4","command_type":"config","data":{"constructor":{"prototype":{"polluted":true}}}}',
    '{"command_id":"P5","command_type":"config","data":{"bonus_table":{"__proto__":{"polluted":true}}}}',
    '{"command_id":"P6","command_type":"lock","data":{"action":"lock","prototype":{"polluted":true}}}',
    '{"__proto__":{"command_id":"P7","polluted":true},"command_type":"coin_dispense","data":{"coins_to_dispense":5}}',
    '{"command_id":"P8","command_type":"query","data":{"query_type":"transactions","since":{"__proto__":{"polluted":true}}}}',
  ].map((text): Case => {
    const body = JSON.parse(text) as { command_type: string };
    return { name: `pollution ${text.slice(0, 70)}`, topic: body.command_type, body, bytes: text.length };
  }),
  // Other command types with bad data.
  ...[{ restart_type: 'reboot' }, { restart_type: 'hard' }, { delay_seconds: -1 }, { delay_seconds: 'ten' }, { delay_seconds: 1e9 }, 'soft', []].map((data, i) =>
    command('restart', { command_id: `R${i}`, command_type: 'restart', data }),
  ),
  ...[{}, { action: 'open' }, { action: 'lock', duration_minutes: -5 }, { action: 'lock', duration_minutes: 'ten' }, { action: 'lock', duration_minutes: 1e12 },
    { action: 'lock', message_display: 'x'.repeat(201) }, { action: ['lock'] }, null].map((data, i) => command('lock', { command_id: `L${i}`, command_type: 'lock', data })),
  ...[{ query_type: 'everything' }, { query_type: 'transactions', limit: 101 }, { query_type: 'transactions', limit: 0 }, { query_type: 'transactions', limit: 2.5 },
    { query_type: 'transactions', since: 'garbage' }, { query_type: 'transactions', since: nowSeconds(), until: nowSeconds() - 100 },
    { include_diagnostics: 'yes' }, 'full_status'].map((data, i) => command('query', { command_id: `Q${i}`, command_type: 'query', data })),
  ...[null, [], 'heartbeat_seconds=1', {}, { heartbeat_seconds: 0 }, { heartbeat_seconds: 'fast' }, { unknown_setting: 1 }, { bonus_table: { 1000: -5 } },
    { bonus_table: { 70: 5 } }, { low_coin_critical: 1e9 }, { dispense_max_per_command: 0 }, { heartbeat_seconds: 1.5 }].map((data, i) =>
    command('config', { command_id: `K${i}`, command_type: 'config', data }),
  ),
];

const knownCodes = new Set(Object.keys(commandErrorCodes));
/** The test's own statement of docs/protocol.md#command-result: a readable id and no opt-out of the ACK means an answer. */
function expectsResult(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (!Object.hasOwn(b, 'command_id') || typeof b.command_id !== 'string' || b.command_id === '' || b.command_id.length > 200) return null;
  return b.requires_ack === false ? null : b.command_id;
}

let verifiers: CommandVerifier[] = [];
test.after.always(() => Promise.all(verifiers.map((v) => v.close())));

for (const keyed of [false, true]) {
  test(`${cases.length} hostile payloads ${keyed ? 'with' : 'without'} a key: nothing crashes, nothing is paid or changed, refusals answered`, async (t) => {
    t.true(cases.length >= 100);
    const verifier = createCommandVerifier({ publicKeyPem: keyed ? keyPair().publicKeyPem : null });
    verifiers.push(verifier);
    // Every refusal is checked for its answer: no answer-rate limit on bad signatures here (commands-auth tests it).
    const h: CommandsHarness = await commandsHarness(verifier, { env: { COINEREX_UNAUTHENTICATED_ANSWER_RATE: '10000' } });
    try {
      let expected = 0;
      for (const c of cases) {
        const bytes = c.bytes ?? Buffer.byteLength(JSON.stringify(c.body));
        const before = await h.outbox.getWaitingCount();
        const out = await h.run(c.topic, c.body, bytes);
        const added = (await h.outbox.getWaitingCount()) - before;
        // getWaiting lists oldest first.
        const results = added === 0 ? [] : (await h.outbox.getWaiting(before, before + added - 1)).map((j) => j.data).flatMap((d) => (d.kind === 'command_result' ? [d.result] : []));
        const want = expectsResult(c.body);
        t.not(out.outcome, 'success', c.name);
        t.not(out.outcome, 'duplicate', c.name);
        if (want === null) {
          t.is(results.length, 0, `${c.name}: no result without a readable id and an ACK`);
        } else {
          expected++;
          t.is(results.length, 1, `${c.name}: one result`);
          t.like(results[0], { ack_command_id: want, status: 'failed', device_id: h.env.deviceId }, c.name);
          t.true(knownCodes.has(String(results[0]?.result.error_code)), `${c.name}: error_code ${String(results[0]?.result.error_code)}`);
          t.is(typeof results[0]?.result.error, 'string', c.name);
        }
      }
      t.is((await h.results()).length, expected);
      t.is(h.machine.paid, 0, 'nothing paid');
      t.is(h.machine.dispenseCalls, 0);
      t.deepEqual(h.machine.locks, [], 'no lock change');
      t.deepEqual(h.machine.applied, [], 'no settings applied');
      t.deepEqual(h.machine.published, { accounting: 0, status: 0 });
      t.is(await h.redis.exists(h.env.keys.settings), 0, 'nothing persisted');
      t.is(await h.redis.llen(h.env.keys.restartRequests), 0, 'no restart requested');
      t.is(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
      t.is((Object.prototype as Record<string, unknown>).polluted, undefined);
    } finally {
      await h.close();
    }
  });
}
