/**
 * `GET /metrics`: the cross-process metrics hash (shared/metrics.ts) in the
 * Prometheus text format, rendered by prom-client. Field names carry the
 * family: `_total` is a counter, `_bucket`/`_sum`/`_count` a histogram,
 * anything else a gauge.
 */
import { Registry } from 'prom-client';

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
  ack_latency_ms: 'Time from the first send of an ACK-required message to its cloud ACK, ms.',
  retransmits_total: 'ACK-required messages sent again because no ACK came in time.',
  giveups_total: 'ACK-required messages given up after the last retransmission (kept as failed).',
  offline_buffer_size: 'ACK-required messages waiting in the offline buffer.',
  offline_drops_total: 'Messages dropped from the full offline buffer (oldest first).',
  commands_total: 'Cloud commands handled, by type and outcome.',
  exchanges_total: 'Completed exchanges (bills or coins for 10 NTD coins).',
  coins_paid_total: 'Coins paid out, by cause.',
  app_restarts_total: 'App restarts carried out by the supervisor, by app and reason.',
  app_up: 'Whether the app beats within the watchdog window (1) or not (0).',
  broker_connected: 'Whether the mqtt app reports the broker link up (1), down (0); absent when unknown.',
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
  const le = (s: Sample) => (s.labels.le === undefined ? Infinity : s.labels.le === '+Inf' ? Infinity : Number(s.labels.le));
  const key = (s: Sample) => JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== 'le').sort());
  for (const f of families.values()) {
    // Prometheus wants a series' buckets in ascending `le`, then _sum and _count.
    const order = (s: Sample) => (s.metricName.endsWith('_bucket') ? 0 : s.metricName.endsWith('_sum') ? 1 : 2);
    f.values.sort((a, b) => key(a).localeCompare(key(b)) || order(a) - order(b) || le(a) - le(b));
  }
  return [...families.values()].sort((a, b) => a.name.localeCompare(b.name));
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
