/**
 * The order of the mqtt app's delivery steps (docs/protocol.md#4-ack-and-retransmission), against a
 * recording fake store and link: a message goes to the broker before its
 * state call returns, never ahead of older buffered ones; ACKs ride along
 * with the next state call and are settled before anything could resend.
 */
import test from 'ava';
import { fixedClock } from '../../shared/clock.js';
import { makeLogger } from '../../shared/logger.js';
import type { Envelope } from '../../shared/messages.js';
import type { Metrics } from '../../shared/metrics.js';
import { Delivery, type LinkPublisher } from '../../workers/mqtt/delivery.js';
import { ackVerdict } from '../../workers/mqtt/inbound/ack.js';
import type { AddInput, DeliveryStore, SettleResult } from '../../workers/mqtt/delivery-store.js';
import { waitFor } from '../helpers/env.js';

let n = 0;
const envelope = (type: Envelope['message_type'] = 'transaction'): Envelope => ({
  timestamp: 1,
  device_id: 'D1',
  message_id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  message_type: type,
  version: '1.3.2',
  data: {},
});

function setup() {
  const log: string[] = [];
  const buffer: string[] = [];
  /** Replies of the fake store's calls are held until `release()`, like a Redis fsync in progress. */
  let held: Array<() => void> = [];
  const reply = <T>(value: () => T): Promise<T> => new Promise((resolve) => held.push(() => resolve(value())));
  const found: SettleResult = { sentAt: 0, attempts: 1, type: 'transaction' };
  const store = {
    gapsMs: [10_000],
    add(m: AddInput) {
      log.push(`add ${m.id.slice(-2)} ${m.sent ? 'sent' : 'buffer'}${m.settle?.length ? ` settle ${m.settle.map((s) => s.slice(-2)).join(',')}` : ''}`);
      if (!m.sent) buffer.push(m.id);
      const settled = (m.settle ?? []).map(() => found);
      return reply(() => (m.sent ? { kind: 'sent' as const, settled } : { kind: 'buffered' as const, settled, buffered: buffer.length, superseded: [], dropped: [] }));
    },
    take() {
      log.push('take');
      const ids = buffer.splice(0);
      return reply(() => ({ items: ids.map((id) => ({ id, topic: 't', payload: id, firstSend: true, dueAt: 10_000 })), buffered: 0, nextDueAt: null }));
    },
    settleMany(ids: readonly string[]) {
      log.push(`settle ${ids.map((s) => s.slice(-2)).join(',')}`);
      return reply(() => ids.map(() => found));
    },
    suspend() {
      log.push('suspend');
      return reply(() => ({ suspended: 0, dropped: [], buffered: buffer.length }));
    },
    due() {
      log.push('due');
      return reply(() => ({ resent: [], gaveUp: [], nextDueAt: null }));
    },
  };
  const link: LinkPublisher & { up: boolean } = {
    up: true,
    async publish(_topic, payload) {
      const messageId = payload.startsWith('{') ? (JSON.parse(payload) as Envelope).message_id : payload;
      log.push(`publish ${messageId.slice(-2)}`);
    },
  };
  const metrics: Metrics = { incr: () => undefined, observe: () => undefined, set: () => undefined };
  const delivery = new Delivery({ store: store as unknown as DeliveryStore, link, clock: fixedClock(0), log: makeLogger('test', 'silent', false), metrics });
  /** Answers every held call, also those made while answering, until none is left. */
  const release = async () => {
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setImmediate(r));
      const now = held;
      held = [];
      now.forEach((f) => f());
    }
  };
  return { delivery, log, link, release };
}

const id = (e: Envelope) => e.message_id.slice(-2);

test('link up and nothing buffered: published before the state call returns; before the first flush, buffered', async (t) => {
  const { delivery, log, release } = setup();
  const early = envelope();
  const first = delivery.submit('t', early);
  await release();
  await first;
  t.deepEqual(log, [`add ${id(early)} buffer`], 'not yet online: the buffer is flushed first');
  const up = delivery.linkUp();
  await release();
  await up;
  t.deepEqual(log.slice(1), ['take', `publish ${id(early)}`]);
  const e = envelope();
  const done = delivery.submit('t', e);
  t.deepEqual(log.slice(-2), [`publish ${id(e)}`, `add ${id(e)} sent`], 'published in the same tick, before the state call');
  await release();
  await done;
  await delivery.close();
});

test('a message submitted while a flush is still sending waits in the buffer behind the older ones', async (t) => {
  const { delivery, log, release } = setup();
  const old = [envelope(), envelope()];
  for (const e of old) void delivery.submit('t', e);
  await release();
  log.length = 0;
  const up = delivery.linkUp();
  // The take is in progress (its reply held): a new message must not overtake.
  const newer = envelope();
  const p = delivery.submit('t', newer);
  await release();
  await Promise.all([up, p]);
  t.deepEqual(log, ['take', `add ${id(newer)} buffer`, `publish ${id(old[0]!)}`, `publish ${id(old[1]!)}`, 'take', `publish ${id(newer)}`], 'flushed again for the newer message, oldest first');
  // Once a take found the buffer empty, the next one goes straight out.
  const next = envelope();
  const q = delivery.submit('t', next);
  t.is(log.at(-1), `add ${id(next)} sent`);
  await release();
  await q;
  await delivery.close();
});

test('ACKs ride along with the next state call; alone they are settled in one call; before a suspension they are settled first', async (t) => {
  const { delivery, log, release } = setup();
  const up = delivery.linkUp();
  await release();
  await up;
  log.length = 0;
  const a = envelope();
  const b = envelope();
  await delivery.handleAck(ackVerdict({ ack_message_id: a.message_id, status: 'received', timestamp: 1 }));
  await delivery.handleAck(ackVerdict({ ack_message_id: b.message_id, status: 'processed', timestamp: 1 }));
  const c = envelope();
  const p = delivery.submit('t', c);
  t.is(log.at(-1), `add ${id(c)} sent settle ${id(a)},${id(b)}`);
  await release();
  await p;

  log.length = 0;
  await delivery.handleAck(ackVerdict({ ack_message_id: c.message_id, status: 'received', timestamp: 1 }));
  t.deepEqual(log, [], 'not settled at once');
  await waitFor(() => log.length > 0, 5_000, 'the settle timer');
  t.deepEqual(log, [`settle ${id(c)}`], 'settled by the timer');
  await release();

  log.length = 0;
  const d = envelope();
  await delivery.handleAck(ackVerdict({ ack_message_id: d.message_id, status: 'received', timestamp: 1 }));
  const down = delivery.linkDown();
  t.deepEqual(log, [`settle ${id(d)}`, 'suspend']);
  await release();
  await down;
  await delivery.close();
});
