/**
 * What the mqtt app loads before its first heartbeat: the static imports of
 * the built entry point, as Node follows them (type-only imports are gone
 * from the build). BullMQ is a third of the app's module loading and not
 * needed for the heartbeat: workers/mqtt/app.ts loads workers/mqtt/queues.ts after it.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../helpers/pm2.js';

/** `import … from '…'`, `import '…'` and `export … from '…'`; not `import(…)`. */
const staticSpecifier = /^\s*(?:import|export)\s+(?:[^'"()]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;

/** The packages reached from a built file by static imports. */
function staticPackages(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(staticSpecifier)) {
      if (spec!.startsWith('.')) visit(join(dirname(file), spec!));
      else if (!spec!.startsWith('node:')) packages.add(spec!.split('/')[0]!);
    }
  };
  visit(join(ROOT, 'dist', entry));
  return packages;
}

test('the mqtt app starts (config, logger, Redis) without loading BullMQ first', (t) => {
  const packages = staticPackages('workers/mqtt/main.js');
  t.true(packages.has('zod') && packages.has('pino') && packages.has('ioredis'), [...packages].join(', '));
  t.false(packages.has('bullmq'), [...packages].join(', '));
});

test('the check finds BullMQ where it is loaded', (t) => {
  t.true(staticPackages('workers/mqtt/queues.js').has('bullmq'));
});
