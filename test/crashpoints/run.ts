/**
 * `npm run crashpoints -- [--paths a,b] [--apps a,b] [--points app:k:when,…] [--short] [--out FILE]`: explores
 * every write of every money path, before and after, prints the totals and
 * every violation, and writes the JSON report (crashpoints-report.json).
 * `--points` runs only the named points (e.g. `hardware:20:after`), to check a finding again.
 * `--shard i/n` runs the points whose (app, k, when) falls in shard i of n: n
 * runs side by side explore every point once between them (whatever each
 * one's recording), and `--merge a.json b.json …` totals their reports.
 * `--record FILE` only records the paths into FILE; `--recording FILE` runs
 * on those recordings instead of recording again, so that shards share one
 * sequence per path and their union is every point of it.
 * Exit codes: 0 no violation, 1 violations, 2 bad arguments, 3 the run broke down.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { everyPoint, Explorer, spread, type PathResult, type Recording, type Selection } from './explore.js';
import { moneyPaths } from './paths.js';
import { formatReport, mergeReports, shardOf, totals } from './report.js';

async function main(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { paths: { type: 'string' }, apps: { type: 'string' }, points: { type: 'string' }, shard: { type: 'string' }, merge: { type: 'boolean' }, record: { type: 'string' }, recording: { type: 'string' }, short: { type: 'boolean' }, out: { type: 'string' } }, strict: true, allowPositionals: true }));
  } catch (err) {
    process.stderr.write(`crashpoints: ${(err as Error).message}\nusage: npm run crashpoints -- [--paths ${moneyPaths.map((p) => p.name).join(',')}] [--apps hardware,business,mqtt] [--points app:k:before|after,…] [--shard i/n] [--record FILE | --recording FILE] [--short] [--out FILE] | --merge FILE…\n`);
    return 2;
  }
  if (values.merge) {
    const merged = mergeReports(positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as { results: PathResult[] }));
    process.stdout.write(`${formatReport(merged.results)}\n\n${merged.coverage}\n`);
    return merged.results.some((r) => r.points.some((p) => p.violations.length > 0 || p.error)) ? 1 : 0;
  }
  const shard = values.shard ? /^(\d+)\/(\d+)$/.exec(values.shard) : null;
  if (values.shard && (!shard || Number(shard[1]) >= Number(shard[2]))) {
    process.stderr.write(`crashpoints: --shard wants i/n with 0 <= i < n, got ${values.shard}\n`);
    return 2;
  }
  const wanted = values.paths?.split(',') ?? moneyPaths.map((p) => p.name);
  const unknown = wanted.filter((n) => !moneyPaths.some((p) => p.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`crashpoints: unknown path(s) ${unknown.join(', ')}\n`);
    return 2;
  }
  // Only the writes of these apps (to split a long path over several runs).
  const apps = values.apps?.split(',') ?? null;
  const base = values.short ? spread(3) : everyPoint;
  const points = values.points?.split(',') ?? null;
  const select: Selection = (writes) =>
    base(apps ? writes.filter((w) => apps.includes(w.app)) : writes)
      .filter((p) => !points || points.includes(`${p.write.app}:${p.write.k}:${p.when}`))
      .filter((p) => !shard || shardOf(p.write.app, p.write.k, p.when, Number(shard[2])) === Number(shard[1]));
  const say = (line: string) => process.stdout.write(`[crashpoints] ${line}\n`);
  const explorer = new Explorer(say, 1);
  const started = Date.now();
  const results: PathResult[] = [];
  const out = resolve(values.out ?? 'crashpoints-report.json');
  const write = (current?: PathResult) => {
    const all = current ? [...results, current] : results;
    writeFileSync(out, `${JSON.stringify({ startedAt: new Date(started).toISOString(), minutes: (Date.now() - started) / 60_000, complete: !current, totals: all.map(totals), results: all }, null, 2)}\n`);
  };
  const stop = () => void explorer.close().finally(() => process.exit(3));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const recordings = values.recording ? (JSON.parse(readFileSync(values.recording, 'utf8')) as Record<string, Recording>) : {};
  try {
    if (values.record) {
      for (const path of moneyPaths.filter((p) => wanted.includes(p.name))) {
        recordings[path.name] = await explorer.record(path);
        say(`${path.name}: ${recordings[path.name]!.writes.length} writes recorded`);
      }
      writeFileSync(values.record, `${JSON.stringify(recordings)}\n`);
      say(`recordings written to ${values.record}`);
      return 0;
    }
    for (const path of moneyPaths.filter((p) => wanted.includes(p.name))) results.push(await explorer.explorePath(path, select, write, recordings[path.name]));
  } catch (err) {
    process.stderr.write(`crashpoints: the run broke down: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 3;
  } finally {
    await explorer.close();
    if (!values.record) {
      process.stdout.write(`\n${formatReport(results)}\n`);
      write();
      say(`report written to ${out}`);
    }
  }
  return results.some((r) => r.points.some((p) => p.violations.length > 0 || p.error)) ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
