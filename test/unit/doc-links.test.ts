/**
 * The repository explains itself: every file and `#anchor` a comment or a
 * document cites exists in it (anchors by GitHub's heading slugs), and
 * nothing cites the reference notes outside it. The checker is also run on
 * made-up files with each kind of broken citation, so the test can fail.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProblems, headingAnchors, isScanned, jsComments, slugify, type Problem, type RepoView } from '../helpers/doc-citations.js';

/** dist/test/unit/ → the repository root. */
const root = fileURLToPath(new URL('../../../', import.meta.url));

const show = (ps: readonly Problem[]) => ps.map((p) => `${p.file}:${p.line}: ${p.cited} — ${p.reason}`).join('\n');

function repoOnDisk(): RepoView {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root })
    .toString()
    .split('\0')
    .filter((f) => f !== '' && isScanned(f) && existsSync(join(root, f)));
  return { files, read: (p) => readFileSync(join(root, p), 'utf8'), exists: (p) => existsSync(join(root, p)) };
}

function repoInMemory(contents: Record<string, string>, dirs: readonly string[] = []): RepoView {
  const files = Object.keys(contents);
  const folders = new Set([...dirs, ...files.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/')))]);
  return { files, read: (p) => contents[p] ?? '', exists: (p) => p in contents || folders.has(p) };
}

test('no comment or document cites a file or anchor the repository does not have', (t) => {
  const repo = repoOnDisk();
  t.true(repo.files.length > 100, 'the tracked files were listed');
  const problems = findProblems(repo);
  t.deepEqual(problems, [], show(problems));
});

test('the protocol, architecture and pitfalls documents exist and carry the numbered section anchors', (t) => {
  const anchors = (p: string) => headingAnchors(readFileSync(join(root, p), 'utf8'));
  const protocol = anchors('docs/protocol.md');
  for (const a of ['1-money-and-machine-facts', '2-topics', '3-envelope', '4-ack-and-retransmission', '5-device-messages', '6-error-and-alarm-codes', '7-commands', '8-local-durability'])
    t.true(protocol.has(a), a);
  const architecture = anchors('docs/architecture.md');
  for (const n of [1, 2, 3, 4, 5]) t.true(architecture.has(`invariant-${n}`), `invariant-${n}`);
  const pitfalls = anchors('docs/pitfalls.md');
  for (const a of ['0-cross-cutting', '1-bullmq', '2-mqttjs', '3-redis-durability-and-ioredis', '4-pm2', '5-serialport', '6-bull-board', '7-piscina', '8-ava-and-typescript', '9-measured-on-this-projects-machines'])
    t.true(pitfalls.has(a), a);
});

test('slugs follow GitHub: markup and punctuation dropped, underscores kept, repeats numbered', (t) => {
  t.is(slugify('4. ACK and retransmission'), '4-ack-and-retransmission');
  t.is(slugify('2. mqtt.js'), '2-mqttjs');
  t.is(slugify('`coin_dispense`'), 'coin_dispense');
  t.is(slugify("9. Measured on this project's machines"), '9-measured-on-this-projects-machines');
  t.is(slugify('Injected I/O'), 'injected-io');
  t.is(slugify('[Link](x.md) text'), 'link-text');
  t.deepEqual([...headingAnchors('# A\n## B\n```\n# not a heading\n```\n## B\n')], ['a', 'b', 'b-1']);
});

test('only comments of code are read: strings, template literals and regex literals are not', (t) => {
  const src = [
    "const a = 'docs/gone.md'; // cites docs/kept.md",
    'const b = `docs/gone.md ${a}`;',
    "const r = /docs\\/gone.md/; const d = 4 / 2; /* docs/block.md */",
  ].join('\n');
  const comments = jsComments(src);
  t.is(comments.length, src.length);
  t.true(comments.includes('docs/kept.md'));
  t.true(comments.includes('docs/block.md'));
  t.false(comments.includes('gone'));
});

/** A reference note's file name, built so that this file does not cite one itself. */
const note = (name: string) => `${name}.md`;

test('each kind of broken citation is reported', (t) => {
  const doc = '# Title\n\n## 4. ACK and retransmission\n\n[here](#title) [there](other.md#missing) [folder](schemas/)\n';
  const repo = repoInMemory({
    'docs/real.md': doc,
    'docs/other.md': '# Other\n',
    'workers/a.ts': [
      '// fine: docs/real.md#4-ack-and-retransmission and ../workers/b.ts and ./b.js',
      '// missing file: docs/nowhere.md',
      '// missing anchor: docs/real.md#5-device-messages',
      `/** outside: ${note('PROTOCOL')} §4, ${note('ARCHITECTURE')} invariant 1, ${note('STYLE')}, ${'PITFALLS'} §9, ../shared/${note('PITFALLS')} */`,
      "const ok = 'docs/nowhere.md';",
      `const text = 'see ${note('PROTOCOL')}'; import x from '../shared/x.js';`,
    ].join('\n'),
    'workers/b.ts': '',
    'deploy/x.conf': '# see docs/nowhere.md\nkey docs/nowhere.md\n',
    'scripts/run.sh': '#!/bin/sh\necho docs/nowhere.md # docs/gone.md\n',
    'package.json': '{ "description": "see docs/nowhere.md" }',
  });
  const problems = findProblems(repo);
  const at = (file: string, line: number) => problems.filter((p) => p.file === file && p.line === line).map((p) => p.cited);
  t.deepEqual(at('workers/a.ts', 1), [], 'existing files, relative paths and .js for .ts pass');
  t.deepEqual(at('workers/a.ts', 2), ['docs/nowhere.md']);
  t.deepEqual(at('workers/a.ts', 3), ['docs/real.md#5-device-messages']);
  t.deepEqual(at('workers/a.ts', 4).sort(), ['../shared/', `../shared/${note('PITFALLS')}`, note('ARCHITECTURE'), note('PITFALLS'), `${'PITFALLS'} §9`, note('PROTOCOL'), note('STYLE')].sort());
  t.deepEqual(at('workers/a.ts', 5), [], 'a string is not a citation of a file');
  t.deepEqual(at('workers/a.ts', 6), [note('PROTOCOL')], 'but a reference note is not named anywhere; an import of ../shared/ is code');
  t.deepEqual(at('deploy/x.conf', 1), ['docs/nowhere.md']);
  t.deepEqual(at('deploy/x.conf', 2), [], 'configuration itself is not a comment');
  t.deepEqual(at('scripts/run.sh', 2), ['docs/gone.md']);
  t.deepEqual(at('package.json', 1), ['docs/nowhere.md']);
  t.deepEqual(at('docs/real.md', 5).sort(), ['other.md#missing', 'schemas/'].sort(), 'markdown links: missing anchor and missing folder; #title exists');

});
