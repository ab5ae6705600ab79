/** Simulated customers: the denomination mix and the arrival rate. */
import test from 'ava';
import { denominationMix, nextArrivalMs, pickDenomination } from '../../workers/hardware/sim/customers.js';

const uniform = (n: number) => Array.from({ length: n }, (_, i) => (i + 0.5) / n);

test('mostly 100s, some 50 coins and 500s, few 1000s', (t) => {
  const counts = new Map<number, number>();
  for (const r of uniform(10_000)) counts.set(pickDenomination(r), (counts.get(pickDenomination(r)) ?? 0) + 1);
  const share = (a: number) => (counts.get(a) ?? 0) / 10_000;
  t.is(share(100), 0.6);
  t.is(share(50), 0.2);
  t.is(share(500), 0.15);
  t.is(share(1000), 0.05);
  t.is(denominationMix.reduce((s, [, w]) => s + w, 0), 1);
});

test('arrivals average 60 s / perMinute', (t) => {
  const gaps = uniform(10_000).map((r) => nextArrivalMs(6, r));
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  t.true(Math.abs(mean - 10_000) < 200, `mean ${mean} ms`);
  t.true(gaps.every((g) => g >= 0 && Number.isFinite(g)));
});
