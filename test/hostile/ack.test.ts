/**
 * Hostile cloud ACKs (docs/protocol.md#cloud-ack) against the mqtt app in-process, on the
 * real broker: malformed JSON, wrong types, statuses outside the enum, huge
 * and deeply nested payloads, prototype keys, ids that are unknown or already
 * settled, and valid ACKs on other topics. None may crash the app or drop the
 * link; no pending message settles except by a valid ACK of its own id on
 * this device's ACK topic; every ACK that fails the schema is counted in
 * `acks_invalid_total`; well-formed ones that settle nothing in `acks_ignored_total`
 * or `acks_error_total`; those over 16 KiB are dropped unparsed and counted in
 * `acks_oversized_total`.
 */
import test from 'ava';
import { readDeliveryStats } from '../../shared/delivery-state.js';
import { metricField } from '../../shared/metrics.js';
import { MAX_COMMAND_BYTES } from '../../shared/command-size.js';
import { cloudPeer } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startDevice, txnData } from '../helpers/mqtt-harness.js';

/**
 * What the app must do with a case: `invalid` fails the schema (counted),
 * `ignored` is a well-formed ACK that must settle nothing (unknown, settled
 * or `error`), `elsewhere` goes to a topic the device does not read.
 */
type Expect = 'invalid' | 'ignored' | 'elsewhere' | 'oversized';
interface Case {
  name: string;
  expect: Expect;
  payload: string | Buffer;
  /** Own ACK topic unless given. */
  topic?: string;
}

function nested(depth: number, open: string, close: string, leaf: string): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

/** The hostile ACKs for a device whose messages `pending` await an ACK and `settled` was ACKed already. */
function hostileAcks(deviceId: string, pending: string[], settled: string): Case[] {
  const id = pending[0]!;
  const now = Math.floor(Date.now() / 1000);
  const json = (v: unknown) => JSON.stringify(v);
  const cases: Case[] = [];
  const add = (expect: Expect, name: string, payload: string | Buffer, topic?: string) => cases.push({ name, expect, payload, topic });

  // Not JSON at all: every one of these names a pending id, so a lenient parser would settle it.
  const valid = json({ timestamp: now, ack_message_id: id, status: 'received' });
  for (const [name, text] of [
    ['empty', ''],
    ['blank', ' \n\t'],
    ['truncated', valid.slice(0, -1)],
    ['cut in the id', valid.slice(0, 30)],
    ['trailing garbage', `${valid}x`],
    ['two objects', `${valid}${valid}`],
    ['single quotes', valid.replaceAll('"', "'")],
    ['unquoted keys', `{ack_message_id:"${id}",status:"received"}`],
    ['trailing comma', `{"ack_message_id":"${id}","status":"received",}`],
    ['comment', `{"ack_message_id":"${id}", /* ok */ "status":"received"}`],
    ['byte order mark', `\ufeff${valid}`],
    ['NaN timestamp', `{"timestamp":NaN,"ack_message_id":"${id}","status":"received"}`],
    ['JS literal', `({ack_message_id:"${id}",status:"received"})`],
    ['plain word', 'received'],
    ['id only', id],
  ] as const) add('invalid', `not JSON: ${name}`, text);
  add('invalid', 'invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x7d]));
  add('invalid', 'NUL bytes', Buffer.alloc(64));
  add('invalid', 'random bytes', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256)));

  // JSON, but not an ACK object.
  for (const v of [null, 42, -1, 'received', true, [], [{ ack_message_id: id, status: 'received' }], { ack: { ack_message_id: id, status: 'received' } }]) {
    add('invalid', `not an object: ${json(v)}`, json(v));
  }
  // Missing parts.
  add('invalid', 'empty object', '{}');
  add('invalid', 'status only', json({ status: 'received' }));
  // Without a status an ACK settles (docs/cloud-interop.md): aimed at unknown ids, they must settle nothing.
  add('ignored', 'unknown id only, no status', json({ ack_message_id: 'no-such-id' }));
  add('ignored', 'unknown fallback id only, no status', json({ message_id: 'no-such-id' }));
  // Wrong types and out-of-range ids.
  for (const bad of [42, 0, true, null, [id], { id }, '', 'x'.repeat(201)]) {
    add('invalid', `ack_message_id ${json(bad).slice(0, 30)}`, json({ ack_message_id: bad, status: 'received' }));
    add('invalid', `message_id ${json(bad).slice(0, 30)}`, json({ message_id: bad, status: 'received' }));
  }
  // Statuses that are not text.
  for (const status of [1, 0, true, ['received'], { received: true }]) {
    add('invalid', `status ${json(status)}`, json({ ack_message_id: id, status }));
  }
  // Any status word settles (docs/cloud-interop.md): aimed at an unknown id, they must settle nothing.
  for (const status of ['RECEIVED', 'Received', 'ok', 'ack', 'acked', 'success', 'processed ', ' received', 'received\u0000', '', 'null', null]) {
    add('ignored', `status ${json(status)}, unknown id`, json({ ack_message_id: 'no-such-id', status }));
  }
  add('invalid', 'error_message not text', json({ ack_message_id: id, status: 'error', error_message: { text: 'x' } }));
  add('invalid', 'error_message of 10 001 chars', json({ ack_message_id: id, status: 'error', error_message: 'x'.repeat(10_001) }));

  // Size and depth.
  add('invalid', '1 MiB id', json({ ack_message_id: 'x'.repeat(1 << 20), status: 'received' }));
  add('invalid', '1 MiB of an unclosed string', `{"ack_message_id":"${id}","status":"${'r'.repeat(1 << 20)}`);
  add('invalid', '20 000 ids in an array', json({ ack_message_id: Array(20_000).fill(id), status: 'received' }));
  add('invalid', '100 000 nested arrays', nested(100_000, '[', ']', ''));
  add('invalid', '100 000 nested objects', nested(100_000, '{"a":', '}', '1'));
  add('invalid', 'status nested 10 000 deep', `{"ack_message_id":"${id}","status":${nested(10_000, '[', ']', '"received"')}}`);
  add('invalid', '50 000 keys', json(Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]))));
  add('ignored', 'unknown id with a 10 000-deep result', `{"ack_message_id":"no-such-id","status":"received","result":${nested(10_000, '{"a":', '}', '1')}}`);

  // Prototype keys: the fields exist only on a would-be prototype, so nothing may settle.
  for (const text of [
    `{"__proto__":{"ack_message_id":"${id}"},"status":"received"}`,
    `{"__proto__":{"ack_message_id":"${id}","status":"received"}}`,
    `{"constructor":{"prototype":{"ack_message_id":"${id}","status":"received"}}}`,
    `{"prototype":{"ack_message_id":"${id}","status":"received"}}`,
    `{"ack_message_id":"${id}","status":{"__proto__":"received"}}`,
  ]) add('invalid', `prototype keys ${text.slice(0, 60)}`, text);
  // The status on a would-be prototype is not the ACK's: its own `error` keeps the message pending.
  add('ignored', 'prototype status under an own error', `{"__proto__":{"status":"received"},"ack_message_id":"${id}","status":"error"}`);

  // Well-formed, but for nothing that is pending: ignored, not settled.
  for (const [name, other] of [
    ['random uuid', '3f2b8c1e-0000-4000-8000-000000000000'],
    ['upper case', id.toUpperCase()],
    ['trailing space', `${id} `],
    ['trailing newline', `${id}\n`],
    ['prefix', id.slice(0, 8)],
    ['another device id', `${deviceId}`],
    ['__proto__', '__proto__'],
    ['hasOwnProperty', 'hasOwnProperty'],
    ['a Redis glob', '*'],
    ['Lua-ish', "'); redis.call('FLUSHALL') --"],
  ] as const) {
    add('ignored', `unknown id: ${name}`, json({ timestamp: now, ack_message_id: other, status: 'received' }));
  }
  add('ignored', 'unknown ack_message_id wins over a pending message_id', json({ ack_message_id: 'no-such-id', message_id: id, status: 'processed' }));
  for (const status of ['received', 'processed', 'error']) add('ignored', `settled id again, ${status}`, json({ ack_message_id: settled, status }));
  for (const p of pending) {
    add('ignored', `error for pending ${p.slice(0, 8)}`, json({ ack_message_id: p, status: 'error', error_message: 'cloud database down' }));
    add('ignored', `error by fallback id for pending ${p.slice(0, 8)}`, json({ message_id: p, status: 'error' }));
  }
  add('ignored', 'garbage timestamp, unknown id', json({ timestamp: { $gt: 0 }, ack_message_id: 'no-such-id', status: 'received' }));

  // Valid ACKs of pending messages on topics the device does not read.
  for (const topic of [
    'coinerex/ack/OTHER_DEVICE',
    `coinerex/ack/${deviceId.toLowerCase()}`,
    `coinerex/ack/${deviceId}/extra`,
    `coinerex/ack/${deviceId} `,
    `COINEREX/ack/${deviceId}`,
    `other/ack/${deviceId}`,
    `coinerex//ack/${deviceId}`,
    `coinerex/ack`,
    `coinerex/commands/${deviceId}/ack`,
    `coinerex/transaction/${deviceId}`,
  ]) {
    for (const p of pending) add('elsewhere', `valid ACK on ${topic}`, json({ ack_message_id: p, status: 'received' }), topic);
  }
  // Last on the device's own topic: once it is counted, everything before it was handled.
  add('invalid', 'closing marker', 'end of the hostile ACKs');
  // Past the edge's size limit on the device's own ACK topic: dropped before parsing, whatever they hold.
  return cases.map((c) => (c.topic === undefined && Buffer.byteLength(c.payload) > MAX_COMMAND_BYTES ? { ...c, expect: 'oversized' as const } : c));
}

test('hostile ACKs: no crash, no reconnect, nothing settles but a valid ACK, every invalid one counted', async (t) => {
  t.timeout(60_000);
  // A long schedule: nothing is resent or given up while the test runs, so any change is the ACKs' doing.
  const env = testEnv({ COINEREX_RETRY_SCHEDULE: '120,120,120,120' });
  const cloud = await cloudPeer(env.deviceId, { policy: 'none' });
  const device = await startDevice(env);
  try {
    await cloud.waitCount('heartbeat', 1);
    const settledMsg = await device.produce('transaction', txnData(1));
    const pendingMsgs = [await device.produce('transaction', txnData(2)), await device.produce('alarm', { alarm_code: 1 }), await device.produce('error', { error_code: 41 })];
    const all = [settledMsg, ...pendingMsgs].map((m) => m.message_id);
    await waitFor(() => all.every((id) => cloud.received.some((r) => r.payload?.message_id === id)), 10_000, 'all four sent');
    await cloud.ack(settledMsg.message_id);
    await waitFor(async () => (await readDeliveryStats(device.redis, env.keys)).acked === 1, 5000, 'the first one settled');

    const pending = pendingMsgs.map((m) => m.message_id);
    const cases = hostileAcks(env.deviceId, pending, settledMsg.message_id);
    const invalid = cases.filter((c) => c.expect === 'invalid').length;
    t.true(cases.length >= 100, `${cases.length} cases`);
    for (const c of cases) await cloud.publishRaw(c.topic ?? cloud.topics.ack, c.payload);

    const counted = async () => Number((await device.redis.hget(env.keys.metrics, metricField('acks_invalid_total'))) ?? 0);
    // One publisher, one subscriber connection: handled in order, and the app's Redis commands run in order too.
    await waitFor(async () => (await counted()) >= invalid, 20_000, `${invalid} invalid ACKs counted`);
    t.is(await counted(), invalid, 'each invalid ACK counted once, nothing else counted as invalid');
    const ignored = cases.filter((c) => c.expect === 'ignored').length;
    const metric = async (name: string) => Number((await device.redis.hget(env.keys.metrics, metricField(name))) ?? 0);
    await waitFor(async () => (await metric('acks_ignored_total')) + (await metric('acks_error_total')) >= ignored, 10_000, `${ignored} ignored ACKs counted`);
    t.is((await metric('acks_ignored_total')) + (await metric('acks_error_total')), ignored, 'each well-formed ACK that settles nothing is counted');
    const oversized = cases.filter((c) => c.expect === 'oversized').length;
    t.true(oversized >= 5, `${oversized} oversized cases`);
    await waitFor(async () => (await metric('acks_oversized_total')) >= oversized, 10_000, `${oversized} oversized ACKs counted`);
    t.is(await metric('acks_oversized_total'), oversized, 'each oversized ACK counted, unparsed');

    const stats = await readDeliveryStats(device.redis, env.keys);
    t.like(stats, { pending: 3, acked: 1, failed: 0, buffered: 0 }, 'nothing settled, lost or given up');
    for (const id of pending) t.not(await device.redis.zscore(env.keys.outDue, id), null, `${id} still waits for its ACK`);
    t.is(cloud.of('heartbeat').length, 1, 'no reconnect (a reconnect sends a fresh heartbeat)');
    t.is(({} as Record<string, unknown>).status, undefined, 'Object.prototype untouched');

    // The app still works: a valid ACK settles exactly its message.
    await cloud.ack(pending[1]!, 'processed');
    await waitFor(async () => (await readDeliveryStats(device.redis, env.keys)).acked === 2, 5000, 'a valid ACK after the flood');
    t.like(await readDeliveryStats(device.redis, env.keys), { pending: 2, acked: 2 });
    t.is(await device.redis.zscore(env.keys.outDue, pending[1]!), null);
  } finally {
    await device.stop();
    await cloud.close();
    await cleanupRedis(env.prefix);
  }
});
