import test from 'ava';
import { fixedClock } from '../../shared/clock.js';
import { makeLogger } from '../../shared/logger.js';
import type { Metrics } from '../../shared/metrics.js';
import type { CommandJob } from '../../queue/jobs.js';
import type { AckVerdict } from '../../workers/mqtt/inbound/ack.js';
import { inboundRouter } from '../../workers/mqtt/inbound/index.js';
import { TokenBucket } from '../../shared/token-bucket.js';

function setup(rate = 100, burst = 100) {
  const clock = fixedClock(1_000);
  const counted: string[] = [];
  const acks: AckVerdict[] = [];
  const jobs: CommandJob[] = [];
  const metrics: Metrics = { incr: (name) => void counted.push(name), observe: () => undefined, set: () => undefined };
  const route = inboundRouter({
    topicPrefix: 'coinerex',
    deviceId: 'D1',
    clock,
    log: makeLogger('test', 'silent', false),
    metrics,
    commandBucket: new TokenBucket(rate, burst, clock),
    onAck: async (a) => void acks.push(a),
    enqueueCommand: async (j) => void jobs.push(j),
  });
  return { route, counted, acks, jobs, clock };
}

const buf = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));

test('ACKs are parsed; message_id is accepted when ack_message_id is absent; invalid ones are counted', (t) => {
  const s = setup();
  s.route('coinerex/ack/D1', buf({ ack_message_id: 'a', status: 'received' }));
  s.route('coinerex/ack/D1', buf({ message_id: 'b', status: 'processed' }));
  s.route('coinerex/ack/D1', buf('{oops'));
  s.route('coinerex/ack/D1', buf({ status: 'received' }));
  s.route('coinerex/ack/D1', buf({ ack_message_id: 'c', status: 42 }));
  t.deepEqual(s.acks.map((a) => a.id), ['a', 'b']);
  t.deepEqual(s.counted, ['acks_invalid_total', 'acks_invalid_total', 'acks_invalid_total']);
});

test('ACK dialects of real clouds: null fields, no status, message_id only, other status words, any timestamp', (t) => {
  const s = setup();
  const dialects: Array<[unknown, { id: string; failed: boolean; unknownStatus: boolean }]> = [
    [{ ack_message_id: 'n1', status: 'received', error_message: null, result: null, timestamp: null }, { id: 'n1', failed: false, unknownStatus: false }],
    [{ ack_message_id: 'n2', timestamp: 1_765_000_000 }, { id: 'n2', failed: false, unknownStatus: false }],
    [{ message_id: 'n3' }, { id: 'n3', failed: false, unknownStatus: false }],
    [{ ack_message_id: null, message_id: 'n4', status: 'success' }, { id: 'n4', failed: false, unknownStatus: false }],
    [{ ack_message_id: 'n5', status: 'OK', timestamp: '1765000000' }, { id: 'n5', failed: false, unknownStatus: true }],
    [{ ack_message_id: 'n6', status: 'Processed', timestamp: '2026-12-07T12:00:00+08:00' }, { id: 'n6', failed: false, unknownStatus: false }],
    [{ ack_message_id: 'n7', status: null }, { id: 'n7', failed: false, unknownStatus: false }],
    ...['error', 'FAILED', 'fail', 'Nack'].map((status, i): [unknown, { id: string; failed: boolean; unknownStatus: boolean }] => [
      { ack_message_id: `f${i}`, status, error_message: null },
      { id: `f${i}`, failed: true, unknownStatus: false },
    ]),
    [{ ack_message_id: 'x'.repeat(200), status: 'received' }, { id: 'x'.repeat(200), failed: false, unknownStatus: false }],
  ];
  for (const [ack] of dialects) s.route('coinerex/ack/D1', buf(ack));
  t.deepEqual(
    s.acks.map((a) => ({ id: a.id, failed: a.failed, unknownStatus: a.unknownStatus })),
    dialects.map(([, v]) => v),
  );
  t.deepEqual(s.counted, ['acks_unknown_status_total'], 'only the unknown status word is counted');
  for (const bad of [{ ack_message_id: null }, { message_id: '' }, { ack_message_id: 'x'.repeat(201) }, { ack_message_id: 'a', status: 1 }, { ack_message_id: 'a', error_message: {} }]) {
    s.route('coinerex/ack/D1', buf(bad));
  }
  t.is(s.counted.filter((c) => c === 'acks_invalid_total').length, 5, 'ids and types stay strict');
});

test('commands become jobs with their type, size and body; invalid JSON is counted', (t) => {
  const s = setup();
  const body = { command_id: 'C1', command_type: 'lock', data: { action: 'lock' } };
  s.route('coinerex/commands/D1/lock', buf(body));
  s.route('coinerex/commands/D1/query', buf('not json'));
  t.deepEqual(s.jobs, [{ topic: 'coinerex/commands/D1/lock', commandType: 'lock', receivedAt: 1_000, bytes: JSON.stringify(body).length, body }]);
  t.deepEqual(s.counted, ['commands_invalid_json_total']);
});

test("the device's own command results, other devices and other topics are ignored", (t) => {
  const s = setup();
  s.route('coinerex/commands/D1/ack', buf({ ack_message_id: 'x', status: 'received', command_id: 'C', command_type: 'lock' }));
  s.route('coinerex/commands/D2/lock', buf({ command_id: 'C' }));
  s.route('coinerex/ack/D2', buf({ ack_message_id: 'x', status: 'received' }));
  s.route('other/ack/D1', buf({ ack_message_id: 'x', status: 'received' }));
  t.deepEqual([s.acks, s.jobs, s.counted], [[], [], []]);
});

test('a command flood is cut at the rate limit before any work: the excess is counted, ACKs are not limited', (t) => {
  const s = setup(2, 5);
  const cmd = buf({ command_id: 'X', command_type: 'query', data: {} });
  for (let i = 0; i < 50; i++) s.route('coinerex/commands/D1/query', cmd);
  t.is(s.jobs.length, 5, 'the burst');
  t.is(s.counted.filter((c) => c === 'commands_rate_limited_total').length, 45);
  s.clock.advance(1_000);
  for (let i = 0; i < 10; i++) s.route('coinerex/commands/D1/query', cmd);
  t.is(s.jobs.length, 7, 'two more after a second at 2 per second');
  for (let i = 0; i < 20; i++) s.route('coinerex/ack/D1', buf({ ack_message_id: `a${i}`, status: 'received' }));
  t.is(s.acks.length, 20);
});

test('an oversized command or ACK is dropped before parsing and counted; one at the limit goes on', (t) => {
  const s = setup();
  const at = (n: number) => {
    const head = '{"command_id":"C","command_type":"query","data":{"x":"';
    return Buffer.from(head + 'a'.repeat(n - head.length - 4) + '"}}');
  };
  s.route('coinerex/commands/D1/query', at(16 * 1024));
  t.is(s.jobs.length, 1, 'at the limit');
  // Not JSON either: parsing it would count it as invalid JSON, not as oversized.
  s.route('coinerex/commands/D1/query', Buffer.alloc(16 * 1024 + 1, 0x7b));
  s.route('coinerex/commands/D1/query', at(1024 * 1024));
  s.route('coinerex/ack/D1', Buffer.from(JSON.stringify({ ack_message_id: 'a', status: 'received', pad: 'x'.repeat(20_000) })));
  t.is(s.jobs.length, 1);
  t.is(s.acks.length, 0);
  t.deepEqual(s.counted, ['commands_oversized_total', 'commands_oversized_total', 'acks_oversized_total']);
});
