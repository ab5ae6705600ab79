/**
 * `npm run chaos -- [--minutes N] [--seed S] [--faults-per-minute F] …`:
 * one chaos run; prints the report, writes it as JSON (chaos-report.json by
 * default). Exit codes: 0 every invariant held, 1 a violation, 2 bad
 * arguments, 3 the run itself broke down (could not start, aborted).
 */
import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runChaos } from './chaos.js';
import { UsageError } from '../shared/errors.js';
import { parseOptions, usage } from './options.js';
import { formatReport } from './report.js';

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv, () => randomInt(2 ** 31));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`chaos: ${err.message}\n${usage}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const abort = new AbortController();
  const stop = () => {
    process.stderr.write('chaos: interrupted; stopping the run and cleaning up\n');
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const say = (line: string) => process.stdout.write(`[chaos] ${line}\n`);
  try {
    const report = await runChaos(options, say, abort.signal);
    process.stdout.write(`\n${formatReport(report)}\n`);
    if (options.out) {
      await writeFile(resolve(options.out), `${JSON.stringify(report, null, 2)}\n`);
      say(`report written to ${resolve(options.out)}`);
    }
    return report.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`chaos: the run broke down: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 3;
  }
}

process.exitCode = await main(process.argv.slice(2));
