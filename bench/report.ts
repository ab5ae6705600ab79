/** The results table and the performance targets of docs/performance.md (this 2-core x86 machine). */

export interface Target {
  key: string;
  label: string;
  unit: string;
  /** The measured value must not exceed (`max`) or fall below (`min`) this. */
  max?: number;
  min?: number;
  /** The floor's figure to show beside it, and the ratio to it. */
  floorKey?: string;
}

export const TARGETS: Target[] = [
  { key: 'latency_p50_ms', label: 'event→cloud p50 at the base rate', unit: 'ms', floorKey: 'durable_floor_latency_p50_ms' },
  { key: 'latency_p99_ms', label: 'event→cloud p99 at the base rate', unit: 'ms', floorKey: 'durable_floor_latency_p99_ms' },
  { key: 'latency_p99_durable_ratio', label: '  p99 ÷ durable floor p99', unit: '×', max: 3 },
  { key: 'latency_p99_ratio', label: '  p99 ÷ mqtt.js floor p99', unit: '×' },
  { key: 'cpu_ms_per_exchange', label: 'CPU per exchange, whole stack', unit: 'ms', floorKey: 'durable_floor_cpu_ms_per_exchange' },
  { key: 'cpu_per_exchange_durable_ratio', label: '  ÷ durable floor', unit: '×', max: 3 },
  { key: 'sequential_durable_round_trips', label: 'durable round trips in sequence', unit: '/exch', max: 6 },
  { key: 'fsyncs_per_exchange', label: 'Redis fsyncs per exchange', unit: '/exch', floorKey: 'durable_floor_fsyncs_per_exchange' },
  { key: 'aof_bytes_per_exchange', label: 'AOF bytes per exchange', unit: 'B', floorKey: 'durable_floor_aof_bytes_per_exchange' },
  { key: 'max_sustained_exchanges_per_s', label: 'highest sustained rate, all ACKed', unit: '/s', min: 150 },
  { key: 'drain_100_ms', label: 'drain of 100 buffered after reconnect', unit: 'ms', max: 1000 },
  { key: 'total_pss_mb', label: 'total PSS (4 apps, PM2, Redis)', unit: 'MB', max: 180 },
  { key: 'idle_cpu_pct', label: 'idle CPU of the stack', unit: '% core', max: 0.5 },
  { key: 'fsyncs_per_idle_hour', label: 'Redis fsyncs per idle hour', unit: '/h', max: 400 },
  { key: 'start_to_heartbeat_ms', label: 'pm2 start → first heartbeat', unit: 'ms', max: 2000 },
  { key: 'flood_p99_ms', label: 'exchange p99 under forged flood', unit: 'ms' },
  { key: 'flood_p99_ratio', label: '  ÷ p99 of as many, no flood', unit: '×', max: 1.5 },
  { key: 'flood_p99_latency_ratio', label: '  ÷ p99 of the latency section', unit: '×' },
  { key: 'soak_pss_growth_pct', label: 'worst app PSS growth in the soak', unit: '%', max: 10 },
];

export type Verdict = 'pass' | 'MISS' | '-';

export function verdict(t: Target, value: unknown): Verdict {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  if (t.max !== undefined && value > t.max) return 'MISS';
  if (t.min !== undefined && value < t.min) return 'MISS';
  return t.max === undefined && t.min === undefined ? '-' : 'pass';
}

const shown = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : 'n/a');

export function table(results: Record<string, unknown>): string {
  const rows = TARGETS.map((t) => {
    const v = results[t.key];
    const goal = t.max !== undefined ? `≤ ${t.max}` : t.min !== undefined ? `≥ ${t.min}` : '';
    const floor = t.floorKey ? results[t.floorKey] : undefined;
    const ratio = typeof v === 'number' && typeof floor === 'number' && floor > 0 ? `${(v / floor).toFixed(1)}×` : '';
    return [t.label, shown(v), t.unit, t.floorKey ? shown(floor) : '', ratio, goal, verdict(t, v)];
  });
  const head = ['metric', 'measured', 'unit', 'floor', 'ratio', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = new Set([1, 3, 4]);
  const line = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function hopTable(hops: { hop: string; p50: number; p99: number; mean: number }[]): string {
  const w = Math.max(...hops.map((h) => h.hop.length));
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a').padStart(6);
  return [`${'hop'.padEnd(w)}     p50     p99    mean  (ms)`, ...hops.map((h) => `${h.hop.padEnd(w)}  ${f(h.p50)}  ${f(h.p99)}  ${f(h.mean)}`)].join('\n');
}
