/**
 * `npm run crashpoints -- [--paths a,b] [--apps a,b] [--short] [--out FILE]`: explores
 * every write of every money path, before and after, prints the totals and
 * every violation, and writes the JSON report (crashpoints-report.json).
 * Exit codes: 0 no violation, 1 violations, 2 bad arguments, 3 the run broke down.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { everyPoint, Explorer, spread, type PathResult, type Selection } from './explore.js';
import { moneyPaths } from './paths.js';
import { formatReport, totals } from './report.js';

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { paths: { type: 'string' }, apps: { type: 'string' }, short: { type: 'boolean' }, out: { type: 'string' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`crashpoints: ${(err as Error).message}\nusage: npm run crashpoints -- [--paths ${moneyPaths.map((p) => p.name).join(',')}] [--apps hardware,business,mqtt] [--short] [--out FILE]\n`);
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
  const select: Selection = (writes) => base(apps ? writes.filter((w) => apps.includes(w.app)) : writes);
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
  try {
    for (const path of moneyPaths.filter((p) => wanted.includes(p.name))) results.push(await explorer.explorePath(path, select, write));
  } catch (err) {
    process.stderr.write(`crashpoints: the run broke down: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 3;
  } finally {
    await explorer.close();
    const text = formatReport(results);
    process.stdout.write(`\n${text}\n`);
    write();
    say(`report written to ${out}`);
  }
  return results.some((r) => r.points.some((p) => p.violations.length > 0 || p.error)) ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
