/** Side-by-side crash-point runs: shards share out every point once, and their merged report names what none explored. */
import test from 'ava';
import type { PathResult, PointResult } from '../crashpoints/explore.js';
import { mergeReports, shardOf } from '../crashpoints/report.js';

test('every point of a path falls in exactly one shard, and every shard gets some', (t) => {
  const n = 12;
  const counts = new Array<number>(n).fill(0);
  for (const app of ['hardware', 'business', 'mqtt'] as const)
    for (let k = 1; k <= 40; k++) for (const when of ['before', 'after'] as const) counts[shardOf(app, k, when, n)]! += 1;
  t.is(counts.reduce((a, b) => a + b, 0), 240);
  t.true(counts.every((c) => c >= 15 && c <= 25), counts.join(','));
});

const point = (app: PointResult['app'], k: number, when: PointResult['when'], bad = false): PointResult => ({
  path: 'p', app, k, when, write: { cmd: 'evalsha', script: 's', key: 'k' }, reached: true, settled: true,
  violations: bad ? [{ invariant: 1, name: 'n', detail: 'd' }] : [], ms: 1, phases: {},
});
const run = (hw: number, points: PointResult[]): { results: PathResult[] } => ({ results: [{ path: 'p', writes: { hardware: hw, business: 0, mqtt: 0 }, sequence: [], points }] });

test('merged reports: points together, the longest recording as the writes, the points nobody explored named', (t) => {
  const merged = mergeReports([run(2, [point('hardware', 1, 'before'), point('hardware', 1, 'after')]), run(3, [point('hardware', 2, 'before', true), point('hardware', 3, 'after')])]);
  t.is(merged.results.length, 1);
  t.is(merged.results[0]!.points.length, 4);
  t.is(merged.results[0]!.writes.hardware, 3);
  t.is(merged.coverage, 'p: 2 point(s) not explored: hardware:2:after, hardware:3:before');
});
