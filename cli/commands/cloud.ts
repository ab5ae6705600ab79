/**
 * `coinerex cloud …`: play the cloud by hand (demo and bench work). Builds a
 * command (docs/protocol.md#7-commands), signs it when a private key is given, publishes
 * it on the configured broker and prints the device's result; or switches
 * the cloud simulator's ACK policy. Exit codes: 0 success (or sent with
 * --no-wait), 1 the device answered `failed`, 2 bad arguments, 69 broker or
 * Redis unreachable, 75 no result in time, 78 bad configuration.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { Config } from '../../shared/config.js';
import { cliConfig, cliRedis, EXIT_CONFIG, EXIT_UNAVAILABLE } from '../support.js';
import { redisKeys } from '../../shared/keys.js';
import { topics as topicsFor, commandTypes, type CommandType } from '../../shared/topics.js';
import { localParts, parseTimestamp } from '../../shared/clock.js';
import { signCommand } from '../../shared/command-signature.js';
import { commandResultSchema, type CommandResult } from '../../shared/messages.js';
import { parsePolicy, formatPolicy, writePolicy, POLICY_USAGE, type AckPolicy } from '../../shared/cloud-sim-policy.js';
import { UsageError } from '../../shared/errors.js';

export const summary = 'act as the cloud: dispense <n>, lock [min], unlock, query …, restart, config k=v, policy …';

const usage = `usage: coinerex cloud <action> [options]
  dispense <coins> [--reason text]          remote coin dispense
  lock [minutes] [--reason text]            lock the machine (auto-unlock after minutes)
  unlock                                    unlock it
  query [full_status|accounting|heartbeat|transactions] [--since t] [--until t] [--limit n]
                                            t: Unix seconds or ISO 8601 (2025-09-12T10:00:00+08:00)
  restart [soft|hard] [--delay s]           restart the agent (hard: reboot the board)
  config key=value …                        change runtime settings (values are JSON or text)
  send <type> '<data JSON>'                 any command type with the given data
  policy <${POLICY_USAGE}>   the cloud simulator's ACK policy
options: --key <pem>   Ed25519 private key to sign with (or COINEREX_CLOUD_SIGNING_KEY)
         --timeout <s> wait this long for the result (default 15)   --no-wait   don't wait
         --print       print the command JSON before sending`;

export type CloudAction =
  | { kind: 'command'; type: CommandType; data: Record<string, unknown> }
  | { kind: 'policy'; policy: AckPolicy };

export interface CloudOptions {
  key?: string;
  timeoutSeconds: number;
  wait: boolean;
  print: boolean;
  reason?: string;
}

function splitArgs(args: readonly string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  const valued = new Set(['--key', '--timeout', '--reason', '--since', '--until', '--limit', '--delay']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--no-wait' || a === '--print') flags.set(a, '1');
    else if (valued.has(a)) {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      flags.set(a, v);
    } else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  return { positional, flags };
}

/** Longest wait setTimeout can express, s (2^31 - 1 ms); a longer one would fire at once. */
const MAX_TIMEOUT_SECONDS = 2_147_483;

function count(value: string | undefined, what: string): number {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new UsageError(`bad ${what} "${value ?? ''}": expected a positive number`);
  return Number(value);
}

function timestampArg(value: string): number | string {
  if (/^\d+$/.test(value)) return Number(value);
  if (parseTimestamp(value) === null) throw new UsageError(`bad time "${value}": expected Unix seconds or ISO 8601`);
  return value;
}

function settingValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The action and options of `args`; throws UsageError naming the bad argument. */
export function parseCloudArgs(args: readonly string[]): { action: CloudAction; options: CloudOptions } {
  const { positional, flags } = splitArgs(args);
  const [verb, ...rest] = positional;
  const reason = flags.get('--reason');
  const options: CloudOptions = {
    key: flags.get('--key'),
    timeoutSeconds: flags.has('--timeout') ? count(flags.get('--timeout'), 'timeout') : 15,
    wait: !flags.has('--no-wait'),
    print: flags.has('--print'),
    reason,
  };
  if (options.timeoutSeconds > MAX_TIMEOUT_SECONDS) throw new UsageError(`bad timeout "${flags.get('--timeout')}": expected at most ${MAX_TIMEOUT_SECONDS} seconds`);
  const noMore = (n: number) => {
    if (rest.length > n) throw new UsageError(`unexpected "${rest[n]}"`);
  };
  const command = (type: CommandType, data: Record<string, unknown>) => ({ action: { kind: 'command', type, data } as CloudAction, options });
  switch (verb) {
    case 'dispense': {
      noMore(1);
      const coins = count(rest[0], 'coin count');
      if (!Number.isSafeInteger(coins)) throw new UsageError(`bad coin count "${rest[0]}": expected a whole number`);
      return command('coin_dispense', { coins_to_dispense: coins, coin_value: 10, reason: reason ?? 'coinerex cloud dispense', operator_account: 'cli', timeout_seconds: 60 });
    }
    case 'lock':
      noMore(1);
      return command('lock', { action: 'lock', ...(rest[0] ? { duration_minutes: count(rest[0], 'minutes') } : {}), reason: reason ?? 'coinerex cloud lock', operator_id: 'cli' });
    case 'unlock':
      noMore(0);
      return command('lock', { action: 'unlock', reason: reason ?? 'coinerex cloud unlock', operator_id: 'cli' });
    case 'query': {
      noMore(1);
      const queryType = rest[0] ?? 'full_status';
      if (!['full_status', 'accounting', 'heartbeat', 'transactions'].includes(queryType)) throw new UsageError(`bad query type "${queryType}"`);
      const data: Record<string, unknown> = { query_type: queryType };
      if (flags.has('--since')) data.since = timestampArg(flags.get('--since')!);
      if (flags.has('--until')) data.until = timestampArg(flags.get('--until')!);
      if (flags.has('--limit')) data.limit = count(flags.get('--limit'), 'limit');
      return command('query', data);
    }
    case 'restart': {
      noMore(1);
      const restartType = rest[0] ?? 'soft';
      if (restartType !== 'soft' && restartType !== 'hard') throw new UsageError(`bad restart type "${restartType}": expected soft or hard`);
      const data: Record<string, unknown> = { restart_type: restartType, reason: reason ?? 'coinerex cloud restart', operator_id: 'cli' };
      if (flags.has('--delay')) data.delay_seconds = count(flags.get('--delay'), 'delay');
      return command('restart', data);
    }
    case 'config': {
      if (rest.length === 0) throw new UsageError('config needs at least one key=value');
      const data: Record<string, unknown> = {};
      for (const pair of rest) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`bad setting "${pair}": expected key=value`);
        data[pair.slice(0, eq)] = settingValue(pair.slice(eq + 1));
      }
      return command('config', data);
    }
    case 'send': {
      noMore(2);
      const type = rest[0];
      if (!type || !(commandTypes as readonly string[]).includes(type)) throw new UsageError(`bad command type "${type ?? ''}": expected ${commandTypes.join(', ')}`);
      const data = rest[1] === undefined ? {} : settingValue(rest[1]);
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError('data must be a JSON object');
      return command(type as CommandType, data as Record<string, unknown>);
    }
    case 'policy': {
      const policy = parsePolicy(rest.join(' '));
      if (!policy) throw new UsageError(`bad policy "${rest.join(' ')}": expected ${POLICY_USAGE}`);
      return { action: { kind: 'policy', policy }, options };
    }
    case undefined:
      throw new UsageError('missing action');
    default:
      throw new UsageError(`unknown action "${verb}"`);
  }
}

/** A command as the cloud sends it (docs/protocol.md#7-commands), signed for `topic` when a key is given. */
export function buildCommand(type: CommandType, data: Record<string, unknown>, now: number, timeZone: string, topic: string, key?: KeyObject): Record<string, unknown> {
  const p = localParts(now, timeZone);
  const command: Record<string, unknown> = {
    timestamp: Math.floor(now / 1000),
    command_id: `CLI_${p.date}_${p.time}_${randomBytes(3).toString('hex')}`,
    command_type: type,
    requires_ack: true,
    priority: type === 'coin_dispense' ? 'high' : 'normal',
    data,
  };
  if (key) command.signature = signCommand(topic, command, key);
  return command;
}

function loadSigningKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read the signing key ${path}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${path}: expected an Ed25519 private key`);
  return key;
}

async function setPolicy(config: Config, policy: AckPolicy): Promise<number> {
  const redis = cliRedis(config.redisUrl);
  try {
    await redis.connect();
    await writePolicy(redis, redisKeys(config.redisPrefix, config.deviceId), policy);
    process.stdout.write(`cloud simulator ACK policy: ${formatPolicy(policy)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`coinerex cloud: Redis at ${config.redisUrl} unreachable: ${(err as Error).message}\n`);
    return EXIT_UNAVAILABLE;
  } finally {
    redis.disconnect();
  }
}

async function sendCommand(config: Config, type: CommandType, data: Record<string, unknown>, o: CloudOptions): Promise<number> {
  const keyPath = o.key ?? process.env.COINEREX_CLOUD_SIGNING_KEY;
  if (!keyPath && config.commandPublicKey) {
    process.stderr.write('coinerex cloud: the device checks command signatures (COINEREX_COMMAND_PUBLIC_KEY); pass --key <private.pem>\n');
  }
  const key = keyPath ? loadSigningKey(keyPath) : undefined;
  const t = topicsFor(config.topicPrefix, config.deviceId);
  const topic = t.command(type);
  const command = buildCommand(type, data, Date.now(), config.timezone, topic, key);
  if (o.print) process.stdout.write(`${topic} ${JSON.stringify(command)}\n`);
  let client;
  try {
    client = await mqtt.connectAsync(config.mqttUrl, {
      clientId: `${config.deviceId}-cli-${randomBytes(3).toString('hex')}`,
      username: config.mqttUsername,
      password: config.mqttPassword,
      ca: config.mqttCa ? readFileSync(config.mqttCa) : undefined,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
  } catch (err) {
    process.stderr.write(`coinerex cloud: broker ${config.mqttUrl} unreachable: ${(err as Error).message}\n`);
    return EXIT_UNAVAILABLE;
  }
  client.on('error', () => undefined);
  try {
    const result = new Promise<CommandResult>((resolve) => {
      client.on('message', (_topic, buf) => {
        try {
          const r = commandResultSchema.safeParse(JSON.parse(buf.toString('utf8')));
          if (r.success && r.data.ack_command_id === command.command_id) resolve(r.data);
        } catch {
          // Not a result for us.
        }
      });
    });
    if (o.wait) await client.subscribeAsync(t.commandResult);
    await client.publishAsync(topic, JSON.stringify(command));
    process.stdout.write(`sent ${type} ${String(command.command_id)}${key ? ' (signed)' : ' (unsigned)'}\n`);
    if (!o.wait) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), o.timeoutSeconds * 1000)));
    const r = await Promise.race([result, timeout]);
    clearTimeout(timer);
    if (!r) {
      process.stderr.write(`coinerex cloud: no result within ${o.timeoutSeconds} s (is the agent running?)\n`);
      return 75;
    }
    process.stdout.write(`${r.status}: ${JSON.stringify(r.result)}\n`);
    return r.status === 'success' ? 0 : 1;
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCloudArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`coinerex cloud: ${err.message}\n\n${usage}\n`);
    return 2;
  }
  const config = cliConfig('cloud');
  if (!config) return EXIT_CONFIG;
  const { action, options } = parsed;
  try {
    return action.kind === 'policy' ? await setPolicy(config, action.policy) : await sendCommand(config, action.type, action.data, options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`coinerex cloud: ${err.message}\n`);
    return 2;
  }
}
