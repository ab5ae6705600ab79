/**
 * The command error-code tables of docs/commands.md#error-codes and
 * docs/protocol.md#command-error-codes equal the codes and texts in code
 * (shared/errors.ts): same codes, same order, same operator text, so the
 * cloud team's contract cannot drift from what the device sends.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandErrorCodes } from '../../shared/errors.js';
import { ROOT } from '../helpers/pm2.js';

/** The `| \`CODE\` | text |` rows of the table under the heading `heading`. */
function tableRows(doc: string, heading: string): [string, string][] {
  const lines = readFileSync(join(ROOT, 'docs', doc), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.replace(/^#+\s*/, '') === heading && l.startsWith('#'));
  if (start < 0) throw new Error(`no heading "${heading}" in docs/${doc}`);
  const rows: [string, string][] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break;
    const m = line.match(/^\|\s*`([A-Z_]+)`\s*\|\s*([^|]+?)\s*\|/);
    if (m) rows.push([m[1]!, m[2]!]);
  }
  return rows;
}

const inCode = Object.entries(commandErrorCodes);

test('docs/commands.md: the error-code table equals the codes in code', (t) => {
  t.deepEqual(tableRows('commands.md', 'Error codes'), inCode);
});

test('docs/protocol.md: the command error-code table equals the codes in code', (t) => {
  t.deepEqual(tableRows('protocol.md', 'Command error codes'), inCode);
});
