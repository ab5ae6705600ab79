/**
 * `npm run bench` reports issue 14's figures beside the durable floor, with
 * its targets (docs/performance.md): every key bench-results.json must carry,
 * its target, and the verdict each gets.
 */
import test from 'ava';
import { TARGETS, table, verdict } from '../../bench/report.js';

const target = (key: string) => TARGETS.find((t) => t.key === key);

test("issue 14's keys are reported, the measured ones beside the durable floor", (t) => {
  t.is(target('latency_p99_ms')?.floorKey, 'durable_floor_latency_p99_ms');
  t.is(target('cpu_ms_per_exchange')?.floorKey, 'durable_floor_cpu_ms_per_exchange');
  t.is(target('aof_bytes_per_exchange')?.floorKey, 'durable_floor_aof_bytes_per_exchange');
  for (const key of ['sequential_durable_round_trips', 'fsyncs_per_idle_hour']) t.truthy(target(key), key);
});

test("issue 14's targets", (t) => {
  t.like(target('latency_p99_durable_ratio'), { max: 3 });
  t.like(target('cpu_per_exchange_durable_ratio'), { max: 3 });
  t.like(target('sequential_durable_round_trips'), { max: 6 });
  t.like(target('max_sustained_exchanges_per_s'), { min: 150 });
  t.like(target('idle_cpu_pct'), { max: 0.5 });
  t.like(target('fsyncs_per_idle_hour'), { max: 400 });
  t.like(target('flood_p99_ratio'), { max: 1.5 });
  t.like(target('total_pss_mb'), { max: 180 });
  t.like(target('start_to_heartbeat_ms'), { max: 2000 });
});

test('verdicts and the table on figures of a run', (t) => {
  // From the run on the final code of 2026-12-07 (docs/performance.md).
  const results = { latency_p99_ms: 47, durable_floor_latency_p99_ms: 7, idle_cpu_pct: 0.36, total_pss_mb: 214.5, max_sustained_exchanges_per_s: 32 };
  t.is(verdict(target('idle_cpu_pct')!, 0.36), 'pass');
  t.is(verdict(target('total_pss_mb')!, 214.5), 'MISS');
  t.is(verdict(target('max_sustained_exchanges_per_s')!, 32), 'MISS');
  t.is(verdict(target('fsyncs_per_idle_hour')!, undefined), '-', 'a section not run is no verdict');
  const p99 = table(results).split('\n').find((l) => l.startsWith('event→cloud p99'));
  t.regex(p99 ?? '', /47\s+ms\s+7\s+6\.7×/);
});
