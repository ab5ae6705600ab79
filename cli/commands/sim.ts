/**
 * `coinerex sim <action>`: acts on the simulated machine through the
 * `control` queue, which the hardware app consumes (docs/architecture.md#interfaces-the-outside-relies-on). Exit codes: 0 queued, 2 bad
 * arguments, 78 bad configuration, 69 Redis unreachable.
 */
import { loadConfig, ConfigError } from '../../shared/config.js';
import { redisKeys } from '../../shared/keys.js';
import { errorCodes } from '../../shared/codes.js';
import { controlJobSchema, makeQueue, producerConnection, queueNames, type ControlJob } from '../../queue/index.js';
import { billAmounts, coinAmounts, type BillAmount, type CoinAmount } from '../../shared/cash.js';
import { UsageError } from '../../shared/errors.js';

export const summary = 'act on the simulator: bill 100|200|500|1000|2000, coin 1|5|10|50, fault|clear <code>, door open|close, refill <coins>, jam';

const usage = `usage: coinerex sim <action>
  bill 100|200|500|1000|2000  insert a bill
  coin 1|5|10|50      insert a coin
  fault <code>        raise an error code (${[...errorCodes.keys()].join(', ')})
  clear <code>        clear an error code
  door open|close     open or close the front door
  refill <coins>      add coins to the hopper
  jam                 make the next payout jam (raises 41)`;

/** How long to wait for Redis before giving up. */
const REDIS_TIMEOUT_MS = 5_000;

function integer(value: string | undefined, what: string): number {
  if (value === undefined) throw new UsageError(`missing ${what}`);
  if (!/^\d+$/.test(value)) throw new UsageError(`bad ${what} "${value}": expected a whole number`);
  return Number(value);
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T {
  if (value === undefined) throw new UsageError(`missing ${what}: expected ${allowed.join(' or ')}`);
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`bad ${what} "${value}": expected ${allowed.join(' or ')}`);
  return value as T;
}

function knownCode(value: string | undefined): number {
  const code = integer(value, 'error code');
  if (!errorCodes.has(code)) throw new UsageError(`bad error code "${value}": expected one of ${[...errorCodes.keys()].join(', ')}`);
  return code;
}

/** The control job for `args`; throws UsageError naming the bad argument. */
export function parseSimArgs(args: readonly string[]): ControlJob {
  const [action, value, ...extra] = args;
  if (action === undefined) throw new UsageError('missing action');
  const expectedArgs = action === 'jam' ? 0 : 1;
  const surplus = [value, ...extra].filter((a) => a !== undefined).slice(expectedArgs);
  let job: ControlJob;
  switch (action) {
    case 'bill':
      job = { action, amount: Number(oneOf(value, billAmounts.map(String), 'bill amount')) as BillAmount };
      break;
    case 'coin':
      job = { action, amount: Number(oneOf(value, coinAmounts.map(String), 'coin amount')) as CoinAmount };
      break;
    case 'fault':
    case 'clear':
      job = { action, code: knownCode(value) };
      break;
    case 'door':
      job = { action, open: oneOf(value, ['open', 'close'], 'door position') === 'open' };
      break;
    case 'refill': {
      const coins = integer(value, 'coin count');
      if (coins < 1 || coins > 100_000) throw new UsageError(`bad coin count "${value}": expected 1 to 100000`);
      job = { action, coins };
      break;
    }
    case 'jam':
      job = { action };
      break;
    default:
      throw new UsageError(`unknown action "${action}"`);
  }
  if (surplus.length > 0) throw new UsageError(`unexpected argument "${surplus[0]}"`);
  return controlJobSchema.parse(job);
}

export async function run(args: string[]): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  let job: ControlJob;
  try {
    job = parseSimArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`coinerex sim: ${err.message}\n${usage}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`coinerex: ${err.message}\n`);
    return 78;
  }
  const keys = redisKeys(config.redisPrefix, config.deviceId);
  const connection = producerConnection(config.redisUrl, `${config.deviceId}:cli`);
  connection.on('error', () => undefined);
  const queue = makeQueue<ControlJob>(queueNames.control, connection, keys.bullPrefix);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cannot reach Redis at ${config.redisUrl}`)), REDIS_TIMEOUT_MS);
    });
    const added = await Promise.race([queue.add(job.action, job), timeout]);
    process.stdout.write(`queued ${args.join(' ')} for ${config.deviceId} (job ${added.id})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`coinerex sim: ${err instanceof Error ? err.message : String(err)}\n`);
    return 69;
  } finally {
    clearTimeout(timer);
    await queue.close().catch(() => undefined);
    connection.disconnect();
  }
}
