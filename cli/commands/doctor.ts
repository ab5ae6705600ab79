/**
 * `coinerex doctor [--json]`: checks a board before it goes live and prints
 * each check with pass/fail and the fix. Exit 0 when nothing fails
 * (warnings allowed), 1 otherwise, 78 on a bad configuration.
 */
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../shared/config.js';
import { cliConfig, EXIT_CONFIG } from '../support.js';
import { runDoctor, type CheckResult } from '../doctor/checks.js';
import { realProbes, type DoctorProbes } from '../doctor/probes.js';

export const summary = 'check a board before it goes live (Redis, broker, keys, clock, disk, serial, boot)';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const mark: Record<CheckResult['outcome'], string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

export function formatReport(config: Config, results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = [`coinerex doctor: device ${config.deviceId} (${config.mode})`];
  for (const r of results) {
    lines.push(`  ${mark[r.outcome]}  ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.fix && r.outcome !== 'pass') lines.push(`        ${''.padEnd(width)}  fix: ${r.fix}`);
  }
  const n = (o: CheckResult['outcome']) => results.filter((r) => r.outcome === o).length;
  lines.push(`${results.length} checks: ${n('pass')} passed, ${n('fail')} failed, ${n('warn')} warnings, ${n('skip')} skipped`);
  return lines.join('\n');
}

/** The command with its probes injectable (tests). Refusals go to `err` (stderr), so `--json` output stays parseable. */
export async function doctor(args: string[], env: NodeJS.ProcessEnv, probes: DoctorProbes, out: (s: string) => void, err: (s: string) => void = out): Promise<number> {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    err(`coinerex doctor: unexpected "${unknown[0]}"\nusage: coinerex doctor [--json]\n`);
    return 2;
  }
  const config = cliConfig('doctor', env, err);
  if (!config) return EXIT_CONFIG;
  const results = await runDoctor({ config, configFile: env.COINEREX_CONFIG, root, user: userInfo().username, home: userInfo().homedir, pm2Home: env.PM2_HOME }, probes);
  out(`${json ? JSON.stringify(results, null, 2) : formatReport(config, results)}\n`);
  return results.some((r) => r.outcome === 'fail') ? 1 : 0;
}

export function run(args: string[]): Promise<number> {
  return doctor(
    args,
    process.env,
    realProbes,
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}
