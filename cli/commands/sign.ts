/**
 * `coinerex sign --key <private.pem> --device <id> [--prefix coinerex]
 * <command.json|->`: signs a command for one device (docs/protocol.md#command-authentication) and
 * prints two lines, the topic and the signed JSON, ready for mosquitto_pub:
 *
 *   coinerex sign --key k.pem --device CCM_001 cmd.json | { read -r t; read -r m; mosquitto_pub -t "$t" -m "$m"; }
 *
 * Adds `timestamp` (Unix seconds now) when missing, since a signed command
 * must carry one.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { signCommand } from '../../shared/command-signature.js';
import { commandTypes, topics } from '../../shared/topics.js';
import { UsageError } from '../../shared/errors.js';

export const summary = 'sign a command JSON for a device (prints topic and payload for mosquitto_pub)';

const usage = 'usage: coinerex sign --key <private.pem> --device <device_id> [--prefix coinerex] <command.json|->';
const segment = /^[A-Za-z0-9_-]{1,64}$/;

function readCommand(source: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${source === '-' ? 'standard input' : source}: ${(err as Error).message}`);
  }
  let command: unknown;
  try {
    command = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source === '-' ? 'standard input' : source} is not JSON: ${(err as Error).message}`);
  }
  if (typeof command !== 'object' || command === null || Array.isArray(command)) throw new UsageError('the command must be a JSON object');
  return command as Record<string, unknown>;
}

function readPrivateKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--key ${path}: not a readable PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`--key ${path}: expected an Ed25519 key, got ${key.asymmetricKeyType}`);
  return key;
}

export async function run(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { key: { type: 'string' }, device: { type: 'string' }, prefix: { type: 'string', default: 'coinerex' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    if (!values.key || !values.device || positionals.length !== 1) throw new UsageError('--key, --device and one command file (or -) are required');
    if (!segment.test(values.device)) throw new UsageError(`--device ${values.device}: letters, digits, "_" or "-"`);
    if (!segment.test(values.prefix)) throw new UsageError(`--prefix ${values.prefix}: letters, digits, "_" or "-"`);
    const privateKey = readPrivateKey(values.key);
    const command = readCommand(positionals[0]!);
    const type = command.command_type;
    if (typeof type !== 'string' || !(commandTypes as readonly string[]).includes(type)) {
      throw new UsageError(`command_type must be one of ${commandTypes.join(', ')}`);
    }
    delete command.signature;
    command.timestamp ??= Math.floor(Date.now() / 1000);
    const topic = topics(values.prefix, values.device).command(type);
    command.signature = signCommand(topic, command, privateKey);
    process.stdout.write(`${topic}\n${JSON.stringify(command)}\n`);
    return 0;
  } catch (err) {
    const isUsage = err instanceof UsageError || String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`coinerex sign: ${(err as Error).message}\n${isUsage ? `${usage}\n` : ''}`);
    return isUsage ? 2 : 1;
  }
}
