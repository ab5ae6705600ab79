import test from 'ava';
import { reconnectDelay } from '../../workers/mqtt/link.js';
import { NetworkQuality } from '../../workers/mqtt/network-quality.js';
import { fixedClock } from '../../shared/clock.js';

test('reconnect back-off doubles per attempt, is capped, and jitters within the upper half', (t) => {
  const lo = () => 0;
  const hi = () => 0.999999;
  t.deepEqual([0, 1, 2, 3, 10].map((a) => reconnectDelay(a, 500, 30_000, lo)), [250, 500, 1000, 2000, 15_000]);
  t.deepEqual([0, 1, 2, 3, 10].map((a) => reconnectDelay(a, 500, 30_000, hi)), [500, 1000, 2000, 4000, 30_000]);
  t.is(reconnectDelay(1000, 500, 30_000, hi), 30_000, 'huge attempt counts stay finite and capped');
});

test('network quality: excellent by default, worse with slow ACKs or repeated drops in the last hour', (t) => {
  const clock = fixedClock(0);
  const q = new NetworkQuality(clock);
  t.is(q.current(), 'excellent');
  q.recordDrop();
  t.is(q.current(), 'good', 'one drop in the hour');
  q.recordDrop();
  q.recordDrop();
  t.is(q.current(), 'fair');
  q.recordDrop();
  q.recordDrop();
  t.is(q.current(), 'poor');
  clock.advance(3_600_001);
  t.is(q.current(), 'excellent', 'old drops are forgotten');
  for (let i = 0; i < 20; i++) q.recordAck(8_000);
  t.is(q.current(), 'poor');
  for (let i = 0; i < 20; i++) q.recordAck(20);
  t.is(q.current(), 'excellent');
  for (let i = 0; i < 20; i++) q.recordAck(600);
  t.is(q.current(), 'good');
});
