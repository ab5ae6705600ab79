/**
 * The published contract (docs/cloud-interop.md): every message in both
 * directions as JSON Schema 2020-12, generated from the zod schemas the
 * agent itself validates with, so the files cannot say something the code
 * does not. Outbound schemas describe exactly what the agent sends (no
 * other properties); inbound ones describe what a cloud should send (the
 * agent accepts more, see the dialects in docs/cloud-interop.md).
 */
import { z } from 'zod';
import { commandSchemas } from '../../workers/business/commands/parse.js';
import { outboundDataSchemas } from '../../shared/envelope.js';
import { cloudAckSchema, commandResultSchema, envelopeSchema } from '../../shared/messages.js';
import { commandTypes, outboundTypes } from '../../shared/topics.js';

interface Published {
  schema: z.ZodType;
  io: 'input' | 'output';
  description: string;
}

function published(): Record<string, Published> {
  const out: Record<string, Published> = {};
  for (const type of outboundTypes) {
    out[type] = {
      schema: envelopeSchema.extend({ message_type: z.literal(type), data: outboundDataSchemas[type] }),
      io: 'output',
      description: `device → cloud on {prefix}/${type}/{device_id}`,
    };
  }
  out.command_result = { schema: commandResultSchema, io: 'output', description: 'device → cloud on {prefix}/commands/{device_id}/ack (no envelope)' };
  out.ack = { schema: cloudAckSchema, io: 'input', description: 'cloud → device on {prefix}/ack/{device_id}' };
  for (const type of commandTypes) {
    out[type] = { schema: commandSchemas[type], io: 'input', description: `cloud → device on {prefix}/commands/{device_id}/${type}` };
  }
  return out;
}

/** File name (`<message_type>.json`) → its text, as checked in under docs/schemas/. */
export function renderSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, p] of Object.entries(published())) {
    const { $schema, ...rest } = z.toJSONSchema(p.schema, { io: p.io, target: 'draft-2020-12' }) as Record<string, unknown>;
    const doc = { $schema, title: name, description: p.description, ...rest };
    files.set(`${name}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return files;
}
