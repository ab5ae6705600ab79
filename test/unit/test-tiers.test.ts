/**
 * The test tiers (`npm run test:unit`, `test:integration`, `test:e2e`) run
 * every test file exactly once between them, so running the tiers one by one
 * covers what `npm test` covers.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/pm2.js';

const TIERS = ['test:unit', 'test:integration', 'test:e2e'];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.js') ? [relative(ROOT, path)] : [];
  });
}

/** The `dist/test/<folder>/**` patterns of a tier's script. */
function foldersOf(script: string): string[] {
  return [...script.matchAll(/'dist\/test\/([\w-]+)\/\*\*'/g)].map((m) => m[1]!);
}

test('every compiled test file belongs to exactly one tier', (t) => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const folders = TIERS.flatMap((tier) => {
    t.truthy(scripts[tier], `package.json has no ${tier} script`);
    return foldersOf(scripts[tier] ?? '');
  });
  t.is(new Set(folders).size, folders.length, 'a folder is in two tiers');
  const files = testFiles(join(ROOT, 'dist', 'test'));
  t.true(files.length > 50);
  const outside = files.filter((f) => !folders.includes(f.split('/')[2]!));
  t.deepEqual(outside, [], 'test files no tier runs');
});
