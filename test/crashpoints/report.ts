/** The crash-point report: totals per path, then every violation with its point and write. */
import { ownerApps, type OwnerApp, type PathResult, type PointResult } from './explore.js';

export interface PathTotals {
  path: string;
  writes: Record<string, number>;
  before: number;
  after: number;
  notReached: number;
  violations: number;
  /** Points the harness could not run. */
  errors: number;
}

export function totals(r: PathResult): PathTotals {
  const ran = r.points.filter((p) => p.reached && !p.error);
  return {
    path: r.path,
    writes: r.writes,
    before: ran.filter((p) => p.when === 'before').length,
    after: ran.filter((p) => p.when === 'after').length,
    notReached: r.points.filter((p) => !p.reached && !p.error && p.violations.length === 0).length,
    violations: r.points.filter((p) => p.violations.length > 0).length,
    errors: r.points.filter((p) => p.error).length,
  };
}

const point = (p: PointResult) => `${p.path} ${p.app}:${p.k}:${p.when} — ${p.write.cmd}${p.write.script ? ` ${p.write.script}` : ''} ${p.write.key}`;

export function formatReport(results: readonly PathResult[]): string {
  const lines = ['path              writes (hw/biz/mqtt)  explored before/after  not reached  violations  not run'];
  for (const r of results) {
    const t = totals(r);
    const w = `${t.writes.hardware ?? 0}/${t.writes.business ?? 0}/${t.writes.mqtt ?? 0}`;
    lines.push(`${t.path.padEnd(18)}${w.padEnd(22)}${`${t.before}/${t.after}`.padEnd(23)}${String(t.notReached).padEnd(13)}${String(t.violations).padEnd(12)}${t.errors}`);
  }
  const bad = results.flatMap((r) => r.points.filter((p) => p.violations.length > 0));
  lines.push('', bad.length === 0 ? 'no violations' : `${bad.length} point(s) with violations:`);
  for (const p of bad) {
    lines.push(`- ${point(p)}`);
    for (const v of p.violations) lines.push(`    [${v.invariant}] ${v.name}: ${v.detail}`);
  }
  for (const p of results.flatMap((r) => r.points.filter((x) => x.error))) lines.push(`- not run: ${point(p)}: ${p.error}`);
  return lines.join('\n');
}

/** The shard of a point: fixed by (app, k, when), so side-by-side runs share the points whatever their recordings. */
export function shardOf(app: OwnerApp, k: number, when: 'before' | 'after', n: number): number {
  return (ownerApps.indexOf(app) * 7919 + k * 2 + (when === 'after' ? 1 : 0)) % n;
}

/**
 * Several runs' reports as one: each path's points together, its write
 * counts the most any run recorded, and a coverage line per path: the
 * points (app, k, when) of that longest recording no run explored.
 */
export function mergeReports(reports: ReadonlyArray<{ results: readonly PathResult[] }>): { results: PathResult[]; coverage: string } {
  const byPath = new Map<string, PathResult>();
  for (const r of reports.flatMap((x) => x.results)) {
    const m = byPath.get(r.path);
    if (!m) {
      byPath.set(r.path, { ...r, writes: { ...r.writes }, points: [...r.points] });
      continue;
    }
    for (const a of ownerApps) m.writes[a] = Math.max(m.writes[a] ?? 0, r.writes[a] ?? 0);
    m.points.push(...r.points);
  }
  const results = [...byPath.values()];
  const lines = results.map((r) => {
    const seen = new Set(r.points.map((p) => `${p.app}:${p.k}:${p.when}`));
    const missing: string[] = [];
    for (const a of ownerApps) for (let k = 1; k <= (r.writes[a] ?? 0); k++) for (const w of ['before', 'after']) if (!seen.has(`${a}:${k}:${w}`)) missing.push(`${a}:${k}:${w}`);
    return `${r.path}: ${missing.length === 0 ? 'every point of the longest recording explored' : `${missing.length} point(s) not explored: ${missing.join(', ')}`}`;
  });
  return { results, coverage: lines.join('\n') };
}
