/** ccTalk framing, event buffers, payout verdicts and denominations (docs/cctalk.md): known frames pinned, damage of every kind. */
import test from 'ava';
import fc from 'fast-check';
import { creditable, inhibitMask, valueOfType } from '../../workers/hardware/cctalk/denominations.js';
import { crc16, decodeFrame, encodeFrame, FrameError, type ChecksumKind } from '../../shared/cctalk/frame.js';
import { nextCounter, readEventBuffer, readHopperStatus } from '../../shared/cctalk/headers.js';
import { judgeSegment } from '../../workers/hardware/cctalk/payout-judge.js';
import type { Segment } from '../../workers/hardware/cctalk/store.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const frame = (destination: number, source: number, header: number, data: number[] = [], kind: ChecksumKind = 'simple') =>
  encodeFrame({ destination, source, header, data: Uint8Array.from(data) }, kind);

test('known frames of the specification and of a hopper manual encode byte for byte', (t) => {
  // Simple poll host -> coin acceptor, and its ACK.
  t.deepEqual(frame(2, 1, 254), hex('02 00 01 FE FF'));
  t.deepEqual(frame(1, 2, 0), hex('01 00 02 00 FD'));
  // Simple poll to the bill validator at 40: 40 0 1 254 217.
  t.deepEqual(frame(40, 1, 254), hex('28 00 01 FE D9'));
  // Hopper: test hopper and its reply, enable hopper (165), ITA-serial dispense of 1 coin, its ACK with the event counter.
  t.deepEqual(frame(3, 1, 163), hex('03 00 01 A3 59'));
  t.deepEqual(frame(1, 3, 0, [0x80, 0x80]), hex('01 02 03 00 80 80 FA'));
  t.deepEqual(frame(3, 1, 164, [165]), hex('03 01 01 A4 A5 B2'));
  t.deepEqual(frame(3, 1, 167, [0xdf, 0xd7, 0x0a, 1]), hex('03 04 01 A7 DF D7 0A 01 90'));
  t.deepEqual(frame(1, 3, 0, [1]), hex('01 01 03 00 01 FA'));
});

test('known frames decode to their fields', (t) => {
  t.like(decodeFrame(hex('01 00 02 00 FD'), 'simple'), { destination: 1, source: 2, header: 0 });
  const status = decodeFrame(hex('01 02 03 00 80 80 FA'), 'simple');
  t.deepEqual([...status.data], [0x80, 0x80]);
});

test('the CRC is CRC-16/XMODEM (0x1021, initial 0): standard check value', (t) => {
  t.is(crc16(Buffer.from('123456789')), 0x31c3);
});

test('a CRC frame carries the CRC low byte where the source was and the high byte last', (t) => {
  const f = frame(40, 1, 254, [], 'crc16');
  const crc = crc16([40, 0, 254]);
  t.deepEqual(f, Buffer.from([40, 0, crc & 0xff, 254, crc >> 8]));
  t.like(decodeFrame(f, 'crc16', 1), { destination: 40, source: 1, header: 254 });
});

test('any frame round-trips, and any single damaged byte is refused', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom<ChecksumKind>('simple', 'crc16'),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 20 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (kind, dest, header, data, at, flip) => {
        const f = encodeFrame({ destination: dest, source: 7, header, data }, kind);
        const back = decodeFrame(f, kind, 7);
        if (back.header !== header || Buffer.compare(Buffer.from(back.data), Buffer.from(data)) !== 0) return false;
        const bad = Buffer.from(f);
        const i = at % bad.length;
        bad[i] = bad[i]! ^ flip;
        try {
          decodeFrame(bad, kind, 7);
          // The simple checksum misses nothing of one byte; a flipped source under CRC is not on the wire.
          return false;
        } catch (err) {
          return err instanceof FrameError;
        }
      },
    ),
  );
  t.pass();
});

test('short and mis-sized frames are refused by kind', (t) => {
  t.is(t.throws(() => decodeFrame(hex('01 00 02'), 'simple'), { instanceOf: FrameError })!.code, 'short');
  t.is(t.throws(() => decodeFrame(hex('01 03 02 00 FA'), 'simple'), { instanceOf: FrameError })!.code, 'length');
  t.is(t.throws(() => decodeFrame(hex('01 00 02 00 FE'), 'simple'), { instanceOf: FrameError })!.code, 'checksum');
});

const buf = (counter: number, pairs: Array<[number, number]> = []): Uint8Array => {
  const out = [counter];
  for (let i = 0; i < 5; i++) out.push(...(pairs[i] ?? [0, 0]));
  return Uint8Array.from(out);
};

test('event buffer: new events oldest first, none on the first read', (t) => {
  const data = buf(3, [
    [4, 1],
    [1, 1],
    [2, 1],
  ]);
  t.deepEqual(readEventBuffer(undefined, data), { counter: 3, fresh: [], lost: 0, reset: false });
  t.deepEqual(readEventBuffer(1, data).fresh, [
    { a: 1, b: 1 },
    { a: 4, b: 1 },
  ]);
  t.deepEqual(readEventBuffer(3, data).fresh, []);
});

test('event buffer: the counter wraps from 255 to 1, never through 0', (t) => {
  t.is(nextCounter(255), 1);
  const r = readEventBuffer(254, buf(2, [
    [1, 1],
    [2, 1],
    [3, 1],
  ]));
  t.is(r.fresh.length, 3);
  t.is(r.lost, 0);
});

test('event buffer: a jump of more than 5 reports the lost events; 0 is a reset', (t) => {
  const r = readEventBuffer(10, buf(18, [
    [1, 1],
    [1, 1],
    [1, 1],
    [1, 1],
    [1, 1],
  ]));
  t.is(r.fresh.length, 5);
  t.is(r.lost, 3);
  t.like(readEventBuffer(10, buf(0)), { reset: true, fresh: [] });
  // After a reset the device counts from 1 again.
  t.is(readEventBuffer(0, buf(2, [
    [1, 1],
    [2, 1],
  ])).fresh.length, 2);
  t.throws(() => readEventBuffer(1, Uint8Array.from([1, 2, 3])), { instanceOf: RangeError });
});

const seg = (over: Partial<Segment> = {}): Segment => ({ coins: 10, counterBefore: 4, paidBefore: 7, unpaidBefore: 0, acked: false, ...over });
const st = (counter: number, remaining: number, paid: number, unpaid: number) => readHopperStatus(Uint8Array.from([counter, remaining, paid, unpaid]));

test('payout verdict: resend only when the hopper provably did not take the dispense', (t) => {
  t.deepEqual(judgeSegment(seg(), st(4, 0, 7, 0), true), { kind: 'send' });
  // Counter moved: taken, paying or settled; never sent again.
  t.deepEqual(judgeSegment(seg(), st(5, 6, 4, 0), true), { kind: 'paying', paid: 4 });
  t.deepEqual(judgeSegment(seg(), st(5, 0, 10, 0), true), { kind: 'settled', paid: 10, reset: false, overpaid: 0 });
  t.deepEqual(judgeSegment(seg({ acked: true }), st(4, 0, 7, 0), true).kind, 'settled');
  // A counter still 0 may hide a reset unless the hopper answered throughout.
  t.deepEqual(judgeSegment(seg({ counterBefore: 0, paidBefore: 0 }), st(0, 0, 0, 0), true), { kind: 'send' });
  // A reset it may hide: counts of 0 + 0 are no outcome of a 10-coin dispense, so it never arrived.
  t.deepEqual(judgeSegment(seg({ counterBefore: 0, paidBefore: 0 }), st(0, 0, 0, 0), false), { kind: 'send' });
});

test('payout verdict: a power cut settles from the hopper saved counts, or is left to a person', (t) => {
  t.deepEqual(judgeSegment(seg({ acked: true }), st(0, 0, 6, 4), false), { kind: 'settled', paid: 6, reset: true, overpaid: 0 });
  // Reset, never ACKed, counts unchanged: 7 + 0 is no outcome of a 10-coin dispense (power cut before it arrived).
  t.deepEqual(judgeSegment(seg(), st(0, 0, 7, 0), false), { kind: 'send' });
  // ... but 10 + 0 could be this dispense paid in full: nobody can tell whether coins left.
  t.deepEqual(judgeSegment(seg({ paidBefore: 10 }), st(0, 0, 10, 0), false), { kind: 'unknown' });
  t.deepEqual(judgeSegment(seg({ paidBefore: 6, unpaidBefore: 4 }), st(0, 0, 6, 4), false), { kind: 'unknown' });
  // ACKed, yet counts unchanged: the hopper did not keep this dispense's counts.
  t.deepEqual(judgeSegment(seg({ acked: true }), st(0, 0, 7, 0), false), { kind: 'unknown' });
  t.deepEqual(judgeSegment(seg(), st(5, 0, 12, 0), true), { kind: 'settled', paid: 10, reset: false, overpaid: 2 });
});

test('denominations: one mapping, the schema decides what can be credited today', (t) => {
  t.is(valueOfType([1, 5, 10, 50], 4), 50);
  t.is(valueOfType([1, 5, 0, 50], 3), undefined);
  t.is(valueOfType([1, 5, 10, 50], 9), undefined);
  t.true(creditable('coin', 50));
  t.true(creditable('bill', 1000));
  t.false(creditable('bill', 123));
  // Only creditable types are enabled on the device: a value the agent cannot report never gets in.
  const [lo, hi] = inhibitMask('bill', [100, 200, 500, 1000, 2000]);
  for (const [type, value] of [100, 200, 500, 1000, 2000].entries()) t.is(((lo | (hi << 8)) >> type) & 1, creditable('bill', value) ? 1 : 0);
});
