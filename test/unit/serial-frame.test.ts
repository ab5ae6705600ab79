/** Board-link framing and payloads (docs/board-link.md §2, §3, §8): the examples of the document, and damage of every kind. */
import test from 'ava';
import fc from 'fast-check';
import { FrameDecoder, MAX_PAYLOAD, crc16, encodeFrame, type Frame } from '../../shared/board-link/frame.js';
import { decodePayload, encodePayload, typeCode, type Message } from '../../shared/board-link/messages.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const wire = (seq: number, m: Message): Buffer => encodeFrame({ seq, type: typeCode(m.name), payload: encodePayload(m) });

function decodeAll(chunks: Uint8Array[]): { frames: Frame[]; decoder: FrameDecoder } {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push(f));
  for (const c of chunks) decoder.push(c);
  return { frames, decoder };
}

test('CRC-16/CCITT-FALSE has the standard check value', (t) => {
  t.is(crc16(Buffer.from('123456789')), 0x29b1);
});

test('the examples of docs/board-link.md §8 are what goes on the wire', (t) => {
  t.deepEqual(wire(0x0001, { name: 'ping' }), hex('02 00 01 10 22 df ef 03'));
  t.deepEqual(wire(0x0102, { name: 'hello', nonce: 0x10203040, version: 1 }), hex('02 01 10 22 01 10 30 20 30 40 01 b8 f2 03'));
  t.deepEqual(wire(0x0007, { name: 'payout', payoutId: 'P1', coins: 10 }), hex('02 00 07 10 23 10 22 50 31 00 00 00 0a 8f 65 03'));
  const bill: Message = { name: 'event', eventId: 3, ageMs: 20, event: { kind: 'bill', amount: 500 } };
  t.deepEqual(wire(0x0010, bill), hex('02 00 10 30 40 00 00 00 10 23 00 00 00 14 01 01 f4 d0 27 03'));
  t.deepEqual(wire(0x0010, { name: 'event_ack', eventId: 3 }), hex('02 00 10 30 c0 00 00 00 10 23 e8 91 03'));
  const { frames } = decodeAll([hex('02 00 10 30 40 00 00 00 10 23 00 00 00 14 01 01 f4 d0 27 03')]);
  t.deepEqual(decodePayload(frames[0]!.type, frames[0]!.payload), bill);
});

const sample: Message[] = [
  { name: 'hello', nonce: 0xffffffff, version: 1 },
  { name: 'payout', payoutId: '付款-0001', coins: 100_000 },
  { name: 'display', text: '歡迎光臨 \u0002\u0003\u0010' },
  { name: 'status', maxPayouts: 16 },
  { name: 'hello_reply', version: 1, boardId: '0010020300ff10aa', eventCounter: 77 },
  { name: 'payout_reply', known: true, payout: { payoutId: 'P', state: 'done', requested: 5, paid: 3, reason: 'hopper_empty' } },
  {
    name: 'status_reply',
    inventory: null,
    doorOpen: true,
    acceptorsEnabled: false,
    lowSensor: true,
    eventCounter: 9,
    pendingEvents: 2,
    faults: [41, 42],
    payouts: [{ payoutId: 'Q', state: 'paying', requested: 9, paid: 4, reason: null }],
  },
  { name: 'event', eventId: 1, ageMs: 0, event: { kind: 'payout_done', payoutId: 'P', requested: 5, paid: 5, reason: 'complete' } },
  { name: 'event', eventId: 2, ageMs: 5, event: { kind: 'hopper_level', coins: 12, lowSensor: true } },
  { name: 'event', eventId: 3, ageMs: 5, event: { kind: 'hopper_empty' } },
  { name: 'error', code: 'refused', detail: 'no' },
];

test('every message survives encoding, stuffing and byte-by-byte decoding', (t) => {
  const bytes = Buffer.concat(sample.map((m, i) => wire(0x0200 + i, m)));
  const { frames, decoder } = decodeAll([...bytes].map((b) => Uint8Array.of(b)));
  t.deepEqual(
    frames.map((f) => decodePayload(f.type, f.payload)),
    sample,
  );
  t.deepEqual(
    frames.map((f) => f.seq),
    sample.map((_, i) => 0x0200 + i),
  );
  t.like(decoder.counters, { frames: sample.length, garbage: 0, truncated: 0, bad_crc: 0 });
});

test('damage is dropped, counted, and the next good frame still gets through', (t) => {
  const good = wire(1, { name: 'ping' });
  const badCrc = Buffer.from(good);
  badCrc[badCrc.length - 2]! ^= 0x01;
  const oversized = Buffer.concat([Buffer.from([0x02]), Buffer.alloc(MAX_PAYLOAD + 10, 0x41), Buffer.from([0x03])]);
  const { frames, decoder } = decodeAll([
    Buffer.from('noise'),
    good,
    good.subarray(0, 4), // truncated: the next STX cuts it
    good,
    badCrc,
    good,
    oversized,
    good,
    Buffer.from([0x02, 0x00, 0x03]), // too short
    good,
    Buffer.from([0x02, 0x00, 0x10, 0x03]), // DLE ETX
    good,
  ]);
  t.is(frames.length, 6);
  t.deepEqual(decoder.counters, { frames: 6, garbage: 5, truncated: 2, oversized: 1, too_short: 1, bad_crc: 1 });
});

test('payloads that do not fit their type are refused', (t) => {
  t.throws(() => decodePayload(typeCode('payout'), Buffer.from([5, 0x41])), { code: 'BAD_PAYLOAD' });
  t.throws(() => decodePayload(typeCode('ping'), Buffer.from([0])), { code: 'BAD_PAYLOAD' }, 'trailing bytes');
  t.throws(() => decodePayload(typeCode('set_acceptors'), Buffer.from([2])), { code: 'BAD_PAYLOAD' }, 'a bool of 2');
  const paidTooMuch = encodePayload({ name: 'event', eventId: 1, ageMs: 0, event: { kind: 'payout_progress', payoutId: 'P', requested: 2, paid: 3 } });
  t.throws(() => decodePayload(typeCode('event'), paidTooMuch), { code: 'BAD_PAYLOAD' });
  t.throws(() => encodePayload({ name: 'payout', payoutId: 'x'.repeat(65), coins: 1 }), { code: 'BAD_PAYLOAD' });
  t.is(decodePayload(0x7e, Buffer.alloc(0)), null, 'an unknown type is reported as such');
});

test('random line noise never crashes the decoder, and good frames around it survive', (t) => {
  const good = wire(7, { name: 'payout', payoutId: 'P-noise', coins: 3 });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 64 }), (noise, chunk) => {
      // An ETX after the noise closes any frame the noise opened; a good frame then always decodes.
      const bytes = Buffer.concat([good, noise, Buffer.from([0x03]), good]);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
      const { frames } = decodeAll(chunks);
      const payouts = frames.filter((f) => f.type === typeCode('payout') && f.seq === 7 && f.payload.equals(encodePayload({ name: 'payout', payoutId: 'P-noise', coins: 3 })));
      return payouts.length >= 2;
    }),
    { numRuns: 300 },
  );
  t.pass();
});
