/**
 * `coinerex clear-error 51 --paid | --not-paid | --no-choice`: the operator's
 * decision about error 51 (兌幣紀錄異常) after counting the hopper, taken at
 * the machine without the cloud: a `clear_error` command (docs/commands.md
 * "Error 51") put on the local `commands` queue as the mqtt app would, signed
 * when the device checks signatures. Prints the device's result. Exit codes:
 * 0 done, 1 refused, 2 bad arguments, 69 Redis unreachable, 75 no result in
 * time, 78 bad configuration.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../../shared/config.js';
import { redisKeys } from '../../shared/keys.js';
import { topics } from '../../shared/topics.js';
import { makeQueue, queueNames, type CommandJob } from '../../queue/index.js';
import { cliConfig, cliRedis, EXIT_CONFIG, EXIT_UNAVAILABLE } from '../support.js';
import { buildCommand } from './cloud.js';
import { UsageError } from '../../shared/errors.js';

export const summary = 'decide error 51: 51 --paid (write the debt off) | --not-paid (pay it) | --no-choice (clear, pay nothing)';

const usage = `usage: coinerex clear-error 51 --paid | --not-paid | --no-choice [options]
  --paid        the coins in doubt left the hopper: their debt is written off
  --not-paid    they did not: the machine pays the debt
  --no-choice   only clear error 51; nothing is paid, the coins stay held
options: --operator <id>  --reason <text>  --key <pem> (sign; needed when the device checks signatures)
         --timeout <s>    wait this long for the result (default 15)`;

export interface ClearErrorArgs {
  data: { error_code: 51; coins_paid?: boolean; operator_id?: string; reason?: string };
  key?: string;
  timeoutSeconds: number;
}

export function parseClearErrorArgs(args: readonly string[]): ClearErrorArgs {
  const [code, ...rest] = args;
  if (code !== '51') throw new UsageError(code === undefined ? 'missing error code: only 51 is decided here' : `bad error code "${code}": only 51 is decided here`);
  const choices: boolean[] = [];
  const out: ClearErrorArgs = { data: { error_code: 51 }, timeoutSeconds: 15 };
  let noChoice = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--paid') choices.push(true);
    else if (a === '--not-paid') choices.push(false);
    else if (a === '--no-choice') noChoice = true;
    else if (a === '--operator') out.data.operator_id = value();
    else if (a === '--reason') out.data.reason = value();
    else if (a === '--key') out.key = value();
    else if (a === '--timeout') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`bad --timeout "${v}": expected whole seconds`);
      out.timeoutSeconds = Number(v);
    } else throw new UsageError(`unknown argument "${a}"`);
  }
  if (choices.length + (noChoice ? 1 : 0) !== 1) throw new UsageError('say exactly one of --paid, --not-paid, --no-choice');
  if (choices.length === 1) out.data.coins_paid = choices[0]!;
  return out;
}

function loadKey(path: string): KeyObject {
  const key = createPrivateKey(readFileSync(path, 'utf8'));
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${path}: expected an Ed25519 private key`);
  return key;
}

/** Queues the command on the local `commands` queue and waits for its stored result. */
export async function clearError(config: Config, a: ClearErrorArgs, print: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const keys = redisKeys(config.redisPrefix, config.deviceId);
  const topic = topics(config.topicPrefix, config.deviceId).command('clear_error');
  const command = buildCommand('clear_error', a.data, Date.now(), config.timezone, topic, a.key ? loadKey(a.key) : undefined);
  const redis = cliRedis(config.redisUrl);
  try {
    await redis.connect();
  } catch (err) {
    process.stderr.write(`coinerex clear-error: Redis at ${config.redisUrl} unreachable: ${(err as Error).message}\n`);
    return EXIT_UNAVAILABLE;
  }
  const queue = makeQueue<CommandJob>(queueNames.commands, redis, keys.bullPrefix);
  try {
    const body = JSON.stringify(command);
    await queue.add('command', { topic, commandType: 'clear_error', receivedAt: Date.now(), bytes: Buffer.byteLength(body), body: command });
    const id = String(command.command_id);
    print(`sent clear_error ${id}${a.key ? ' (signed)' : ' (unsigned)'}\n`);
    const deadline = Date.now() + a.timeoutSeconds * 1000;
    while (Date.now() < deadline) {
      const raw = await redis.get(keys.command(id));
      const record = raw === null ? null : (JSON.parse(raw) as { state: string; result?: { status: string; result: unknown } });
      if (record?.state === 'done' && record.result) {
        print(`${record.result.status}: ${JSON.stringify(record.result.result)}\n`);
        return record.result.status === 'success' ? 0 : 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    process.stderr.write(`coinerex clear-error: no result within ${a.timeoutSeconds} s (is the business app running? a refusal before the claim, e.g. a missing signature, is in its log)\n`);
    return 75;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export async function run(args: string[]): Promise<number> {
  let parsed: ClearErrorArgs;
  try {
    parsed = parseClearErrorArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`coinerex clear-error: ${err.message}\n\n${usage}\n`);
    return 2;
  }
  const config = cliConfig('clear-error');
  if (!config) return EXIT_CONFIG;
  try {
    return await clearError(config, parsed);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`coinerex clear-error: ${err.message}\n`);
    return 2;
  }
}
