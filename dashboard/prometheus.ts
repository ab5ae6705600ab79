/**
 * `GET /metrics`: the cross-process metrics hash (shared/metrics.ts) in the
 * Prometheus text format, rendered by prom-client. Field names carry the
 * family: `_total` is a counter, `_bucket`/`_sum`/`_count` a histogram,
 * anything else a gauge.
 */
import { Registry } from 'prom-client';
import { latencyBucketsMs } from '../shared/metrics.js';

export type Sample = { metricName: string; labels: Record<string, string>; value: number };
export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: Sample[];
}

/** What each metric the apps write means; unknown names still render with a generic help. */
const help: Record<string, string> = {
  messages_published_total: 'Device messages published to the broker, by message type (retransmissions included).',
  messages_skipped_total: 'Heartbeat, status and command results not sent because the broker link was down, by type.',
  ack_latency_ms: 'Time from the first send of an ACK-required message to its cloud ACK, ms.',
  retransmits_total: 'ACK-required messages sent again because no ACK came in time.',
  giveups_total: 'ACK-required messages given up after the last retransmission (kept as failed).',
  offline_buffer_size: 'ACK-required messages waiting in the offline buffer.',
  offline_dropped_total: 'Messages dropped from the full offline buffer (oldest first).',
  acks_invalid_total: 'Cloud ACKs that could not be parsed.',
  commands_invalid_json_total: 'Inbound commands that were not JSON.',
  commands_total: 'Cloud commands handled, by type and outcome.',
  command_duration_ms: 'Time to handle a cloud command, ms.',
  business_credits_total: 'Cash credits taken in (bills and coins), by amount.',
  business_coins_paid_total: 'Coins paid out, by purpose.',
  business_codes_raised_total: 'Error and alarm codes raised, by kind and code.',
  business_event_ms: 'Time to apply one hardware event in the business app, ms.',
  serial_input_dropped_total: 'Serial input the board link could not parse, by kind.',
  serial_link_changes_total: 'Serial link up/down changes.',
  app_restarts_total: 'App restarts carried out by the supervisor, by app and reason (watchdog, soft_restart).',
  app_up: 'Whether the app beats within the watchdog window (1) or not (0).',
  broker_connected: 'Whether the mqtt app reports the broker link up (1) or down (0); absent while unknown.',
};

export const helpFor = (name: string): string => help[name] ?? `Coinerex agent metric ${name}.`;

function parseField(field: string): { name: string; labels: Record<string, string> } {
  const brace = field.indexOf('{');
  if (brace < 0) return { name: field, labels: {} };
  const labels: Record<string, string> = {};
  // Label values were sanitised by metricField (no quotes, backslashes or newlines).
  for (const m of field.slice(brace + 1, -1).matchAll(/([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"/g)) labels[m[1]!] = m[2]!;
  return { name: field.slice(0, brace), labels };
}

const validName = /^[A-Za-z_:][A-Za-z0-9_:]*$/;
const histogramPart = /^(.*)_(bucket|sum|count)$/;

/** Groups the hash's fields into metric families. */
export function familiesFromHash(hash: Record<string, string>): Family[] {
  const parsed = Object.entries(hash)
    .map(([field, raw]) => ({ ...parseField(field), value: Number(raw) }))
    .filter((s) => validName.test(s.name) && Number.isFinite(s.value));
  const histograms = new Set(parsed.filter((s) => s.name.endsWith('_bucket')).map((s) => s.name.slice(0, -'_bucket'.length)));
  const families = new Map<string, Family>();
  for (const s of parsed) {
    const part = histogramPart.exec(s.name);
    const base = part && histograms.has(part[1]!) ? part[1]! : s.name;
    const type = histograms.has(base) ? 'histogram' : s.name.endsWith('_total') ? 'counter' : 'gauge';
    let f = families.get(base);
    if (!f) families.set(base, (f = { name: base, help: helpFor(base), type, values: [] }));
    f.values.push({ metricName: s.name, labels: s.labels, value: s.value });
  }
  for (const f of families.values()) if (f.type === 'histogram') fillBuckets(f);
  const le = (s: Sample) => (s.labels.le === undefined ? Infinity : s.labels.le === '+Inf' ? Infinity : Number(s.labels.le));
  const key = (s: Sample) => JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== 'le').sort());
  for (const f of families.values()) {
    // Prometheus wants a series' buckets in ascending `le`, then _sum and _count.
    const order = (s: Sample) => (s.metricName.endsWith('_bucket') ? 0 : s.metricName.endsWith('_sum') ? 1 : 2);
    f.values.sort((a, b) => key(a).localeCompare(key(b)) || order(a) - order(b) || le(a) - le(b));
  }
  return [...families.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The apps only write a bucket once a value falls in it; a bucket never
 * written holds 0 (buckets are cumulative, so nothing was at or below it).
 */
function fillBuckets(f: Family): void {
  const series = new Map<string, { labels: Record<string, string>; les: Set<string> }>();
  for (const s of f.values) {
    if (!s.metricName.endsWith('_bucket')) continue;
    const { le, ...labels } = s.labels;
    const key = JSON.stringify(Object.entries(labels).sort());
    const entry = series.get(key) ?? { labels, les: new Set<string>() };
    entry.les.add(le ?? '');
    series.set(key, entry);
  }
  for (const { labels, les } of series.values()) {
    for (const le of [...latencyBucketsMs.map(String), '+Inf']) {
      if (!les.has(le)) f.values.push({ metricName: `${f.name}_bucket`, labels: { ...labels, le }, value: 0 });
    }
  }
}

/** Prometheus text exposition of the families, via a prom-client registry of read-only collectors. */
export async function renderPrometheus(families: Family[]): Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  for (const f of families) {
    registry.registerMetric({
      name: f.name,
      help: f.help,
      type: f.type,
      get: async () => ({ name: f.name, help: f.help, type: f.type, values: f.values, aggregator: 'sum' }),
      reset: () => undefined,
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  }
  return { contentType: registry.contentType, body: families.length > 0 ? await registry.metrics() : '' };
}
