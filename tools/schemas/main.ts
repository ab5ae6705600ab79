/** `npm run schemas`: writes docs/schemas/<message_type>.json from the zod schemas (tools/schemas/protocol-schemas.ts). */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchemas } from './protocol-schemas.js';

const dir = join(process.cwd(), 'docs', 'schemas');
mkdirSync(dir, { recursive: true });
const files = renderSchemas();
// A message type that no longer exists must not leave its old file behind.
for (const old of readdirSync(dir)) if (old.endsWith('.json') && !files.has(old)) rmSync(join(dir, old));
for (const [name, text] of files) writeFileSync(join(dir, name), text);
console.log(`wrote ${files.size} schemas to ${dir}`);
