/**
 * The checked-in JSON Schemas (docs/schemas/) are what the zod schemas
 * generate: a schema change without `npm run schemas` fails here.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchemas } from '../../tools/schemas/protocol-schemas.js';
import { commandTypes, outboundTypes } from '../../shared/topics.js';

const dir = join(process.cwd(), 'docs', 'schemas');

test('docs/schemas holds one file per message type in both directions, each as generated (run `npm run schemas` after a schema change)', (t) => {
  const files = renderSchemas();
  t.deepEqual([...files.keys()].sort(), [...outboundTypes, ...commandTypes, 'ack', 'command_result'].map((n) => `${n}.json`).sort());
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.json')).sort(), [...files.keys()].sort(), 'no missing or left-over files');
  for (const [name, text] of files) t.is(readFileSync(join(dir, name), 'utf8'), text, `docs/schemas/${name} is stale: run npm run schemas`);
});

test('the schemas are JSON Schema 2020-12; outbound ones allow no other properties', (t) => {
  for (const [name, text] of renderSchemas()) {
    const doc = JSON.parse(text) as Record<string, unknown>;
    t.is(doc.$schema, 'https://json-schema.org/draft/2020-12/schema', name);
    t.is(doc.type, 'object', name);
  }
  const heartbeat = JSON.parse(renderSchemas().get('heartbeat.json')!) as { additionalProperties: boolean; properties: { data: { properties: { network_quality: { enum: string[] } } } } };
  t.false(heartbeat.additionalProperties);
  t.deepEqual(heartbeat.properties.data.properties.network_quality.enum, ['excellent', 'good', 'fair', 'poor']);
});
