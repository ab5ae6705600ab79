/**
 * Test-only crash points (`npm run crashpoints`, docs/durability.md): counts
 * the durable Redis writes this process makes — single write commands, the
 * EXEC of a MULTI holding a write, and Lua scripts (the project's plans and
 * BullMQ's, queue hand-offs included) — and kills the process with SIGKILL
 * right before or right after the k-th one. Inert unless
 * `COINEREX_CRASH_POINT` or `COINEREX_CRASH_TRACE` is set: nothing is
 * patched and no signal handler is installed otherwise.
 *
 *  - `COINEREX_CRASH_TRACE=<dir>`: append one JSON line per counted write to `<dir>/<app>.jsonl`.
 *  - `COINEREX_CRASH_POINT=<app>:<k>:<before|after>`: in the app named `<app>`
 *    (the folder of its main.js), die before the write is sent / after Redis
 *    answered it and before the app sees the answer.
 *  - `COINEREX_CRASH_MATCH=<signature>`: count only writes with this signature
 *    (command, script, key with ids masked), so a write a timer adds to the
 *    path does not move the point.
 *  - With a trace dir, a file `<dir>/<app>.arm` read at SIGUSR2 (first line the
 *    point, second the signature) replaces both variables: the harness moves
 *    the point without restarting the app.
 *
 * Counting starts at SIGUSR2 (the harness arms the process once it is idle),
 * so start-up writes and the moment of the start do not shift the numbers.
 * Not counted: blocking commands, read-only scripts and BullMQ's lock and
 * stalled-job upkeep, which a timer drives and no money path depends on.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface CrashPointSpec {
  app: string;
  k: number;
  when: 'before' | 'after';
}

/** Parses `<app>:<k>:<before|after>`; null when malformed. */
export function parseCrashPoint(raw: string): CrashPointSpec | null {
  const m = /^([\w-]+):(\d+):(before|after)$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1) return null;
  return { app: m[1]!, k: Number(m[2]), when: m[3] as 'before' | 'after' };
}

const writeCommands = new Set([
  'set', 'setex', 'psetex', 'setnx', 'getset', 'getdel', 'getex', 'del', 'unlink', 'expire', 'pexpire', 'expireat', 'pexpireat', 'persist',
  'incr', 'incrby', 'decr', 'decrby', 'incrbyfloat', 'append', 'mset', 'msetnx',
  'hset', 'hsetnx', 'hmset', 'hdel', 'hincrby', 'hincrbyfloat',
  'lpush', 'rpush', 'lpushx', 'rpushx', 'lpop', 'rpop', 'lrem', 'lset', 'ltrim', 'linsert', 'lmove', 'rpoplpush',
  'sadd', 'srem', 'spop', 'smove', 'zadd', 'zrem', 'zincrby', 'zremrangebyscore', 'zremrangebyrank', 'zremrangebylex', 'zpopmin', 'zpopmax',
  'xadd', 'xtrim', 'xdel', 'rename', 'renamenx', 'copy',
]);
/** BullMQ scripts a timer drives (lock renewal, stalled-job checks) or that only read. */
const uncountedScript = /^(extendLock|extendLocks|moveStalledJobsToWait|get|is|paginate|releaseLock)/;

interface Cmd {
  name: string;
  args: unknown[];
  resolve: (v: unknown) => void;
  getKeys(): Array<string | Buffer>;
}

/** A write's signature: command, script and first key with the run's prefix, device id and every id-like segment masked. */
export function signature(cmd: string, script: string, key: string, prefix: string, deviceId: string): string {
  let k = key;
  if (prefix) k = k.split(prefix).join('<p>');
  if (deviceId) k = k.split(deviceId).join('<dev>');
  k = k
    .split(':')
    .map((s) => (/\d/.test(s) && s !== '<p>' && s !== '<dev>' ? '*' : s))
    .join(':');
  return `${cmd}|${script}|${k}`;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function installCrashPointHook(env: NodeJS.ProcessEnv = process.env): void {
  const traceDir = env.COINEREX_CRASH_TRACE;
  const rawPoint = env.COINEREX_CRASH_POINT;
  if (!traceDir && !rawPoint) return;
  const proto = Redis.prototype as unknown as Record<string, unknown> & { __crashPointHook?: true };
  if (proto.__crashPointHook) return;
  proto.__crashPointHook = true;

  const app = /(?:^|\/)([\w-]+)\/main\.js$/.exec(process.argv[1] ?? '')?.[1] ?? '?';
  const tracePath = traceDir ? join(traceDir, `${app}.jsonl`) : '';
  let spec = rawPoint ? parseCrashPoint(rawPoint) : null;
  let match = env.COINEREX_CRASH_MATCH ?? '';
  const prefix = env.COINEREX_REDIS_PREFIX ?? '';
  const deviceId = env.COINEREX_DEVICE_ID ?? '';
  const scripts = new Map<string, string>();
  let armed = false;
  let seen = 0;
  let counted = 0;
  let dying = false;
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable');
  };
  process.on('SIGUSR2', () => {
    if (traceDir) {
      try {
        const [point = '', sig = ''] = readFileSync(join(traceDir, `${app}.arm`), 'utf8').split('\n');
        spec = parseCrashPoint(point);
        match = sig;
      } catch {
        // No arm file: count (and trace) with what the environment says.
      }
    }
    armed = true;
    seen = 0;
    counted = 0;
  });

  const defineCommand = proto.defineCommand as (this: { scriptsSet: Record<string, { sha: string }> }, name: string, def: unknown) => void;
  proto.defineCommand = function (this: { scriptsSet: Record<string, { sha: string }> }, name: string, def: unknown) {
    defineCommand.call(this, name, def);
    const sha = this.scriptsSet?.[name]?.sha;
    // BullMQ names its scripts `<name>:<version>` (older: `<name>-<keys>`).
    if (sha) scripts.set(sha, name.replace(/[-:][\d.]+$/, ''));
  };

  // Per connection: the commands queued since MULTI, until EXEC.
  const multis = new WeakMap<object, string[] | null>();
  const sendCommand = proto.sendCommand as (this: object, command: Cmd, ...rest: unknown[]) => unknown;
  proto.sendCommand = function (this: object, command: Cmd, ...rest: unknown[]) {
    if (dying) die();
    if (!armed) return sendCommand.call(this, command, ...rest);
    const name = command.name.toLowerCase();
    let key = '';
    try {
      key = String(command.getKeys()[0] ?? '');
    } catch {
      key = '';
    }
    const queued = multis.get(this);
    if (name === 'multi') {
      multis.set(this, []);
      return sendCommand.call(this, command, ...rest);
    }
    if (queued && name !== 'exec' && name !== 'discard') {
      if (writeCommands.has(name) || name === 'evalsha' || name === 'eval') queued.push(`${name} ${key}`);
      return sendCommand.call(this, command, ...rest);
    }
    let script = '';
    let counts = false;
    if (name === 'exec') {
      multis.set(this, null);
      counts = (queued?.length ?? 0) > 0;
      script = queued?.[0]?.split(' ')[0] ?? '';
      key = queued?.[0]?.split(' ')[1] ?? '';
    } else if (name === 'evalsha' || name === 'eval') {
      const body = String(command.args[0] ?? '');
      script = name === 'evalsha' ? (scripts.get(body) ?? `sha:${body.slice(0, 8)}`) : `lua:${createHash('sha1').update(body).digest('hex').slice(0, 8)}`;
      counts = !uncountedScript.test(script);
      // A script that takes its keys in a JSON argument (the business plans): name it by the first key in it.
      if (!key && prefix) key = new RegExp(`"(${escape(prefix)}:[^"]+)"`).exec(command.args.slice(2).map(String).join(' '))?.[1] ?? '';
    } else counts = writeCommands.has(name);
    if (name === 'discard') multis.set(this, null);
    if (!counts) return sendCommand.call(this, command, ...rest);

    const sig = signature(name, script, key, prefix, deviceId);
    seen += 1;
    const hit = match === '' || match === sig;
    if (hit) counted += 1;
    if (tracePath) appendFileSync(tracePath, `${JSON.stringify({ app, n: seen, sig, cmd: name, script, key, at: Date.now() })}\n`);
    if (spec?.app === app && hit && counted === spec.k) {
      if (spec.when === 'before') die();
      const resolve = command.resolve;
      command.resolve = (v: unknown) => {
        dying = true;
        die();
        resolve(v);
      };
      const reject = (command as unknown as { reject: (e: unknown) => void }).reject;
      (command as unknown as { reject: (e: unknown) => void }).reject = (e: unknown) => {
        dying = true;
        die();
        reject(e);
      };
    }
    return sendCommand.call(this, command, ...rest);
  };
}
