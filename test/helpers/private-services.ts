/**
 * A test's own Mosquitto and Redis, each on a free port in a temp dir, so
 * they can be stopped and killed without touching the shared ones. Redis
 * runs with the shipped deploy/redis.conf (port, bind, dir and files
 * overridden) and restarts from its append-only file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './env.js';
import { ROOT } from './pm2.js';
import { freePort } from './app-process.js';

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

async function ended(p: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await exited;
}

export interface PrivateBroker {
  port: number;
  url: string;
  readonly running: boolean;
  readonly pid: number | null;
  start(): Promise<void>;
  /** SIGTERM: the broker goes away and every client's connection drops. */
  stop(): Promise<void>;
}

export interface PrivateBrokerOptions {
  /**
   * Persistent sessions survive a restart (saved in `dir`), and a disconnected one queues even QoS 0
   * messages: a cloud peer with a `session` misses nothing the device sends while it is away.
   */
  keepSessions?: boolean;
}

export async function privateBroker(dir: string, o: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // A tuned cloud broker sends small packets at once (docs/pitfalls.md#nagles-algorithm); by default nothing persists across a restart.
  // Started as root, mosquitto would otherwise drop to its own user, which cannot write into `dir`.
  const persistence = o.keepSessions ? `persistence true\npersistence_location ${dir}/\nqueue_qos0_messages true\nuser ${userInfo().username}\n` : 'persistence false\n';
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n${persistence}`);
  let proc: ChildProcess | null = null;
  const broker: PrivateBroker = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get running() {
      return proc !== null && proc.exitCode === null && proc.signalCode === null;
    },
    get pid() {
      return broker.running ? (proc?.pid ?? null) : null;
    },
    async start() {
      if (broker.running) return;
      proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
      proc.on('error', () => undefined);
      await waitFor(() => accepting(port), 10_000, `private mosquitto on ${port}`, 50);
    },
    async stop() {
      await ended(proc, 'SIGTERM');
      proc = null;
    },
  };
  return broker;
}

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  /** Where the configuration came from. */
  confSource: string;
  readonly running: boolean;
  /** The server's process id while it runs. */
  readonly pid: number | null;
  start(): Promise<void>;
  /** kill -9: whatever was not yet written to the AOF is lost, as in a crash. */
  kill9(): Promise<void>;
  /** Graceful stop at the end of the run. */
  stop(): Promise<void>;
  /** The persistence settings in force (appendonly, appendfsync, maxmemory-policy, ...). */
  settings(): Promise<Record<string, string>>;
}

const SHIPPED_CONF = join(ROOT, 'deploy', 'redis.conf');

export interface PrivateRedisOptions {
  /** Overrides the shipped `appendfsync` (the benchmark measures what the fsync per write costs). */
  appendfsync?: 'always' | 'everysec' | 'no' | undefined;
  /** Overrides the shipped `maxmemory` (e.g. `16mb`, to reach the limit in a test). */
  maxmemory?: string | undefined;
}

export async function privateRedis(dir: string, o: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  // Only where it listens and where it keeps its files change; everything about persistence is as shipped.
  const overrides = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--supervised', 'no',
    '--logfile', join(dir, 'redis.log'), '--pidfile', join(dir, 'redis.pid'), '--unixsocket', join(dir, 'redis.sock'),
    ...(o.appendfsync ? ['--appendfsync', o.appendfsync] : []),
    ...(o.maxmemory ? ['--maxmemory', o.maxmemory] : []),
  ];
  const args = [SHIPPED_CONF, ...overrides];
  let proc: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;
  const ping = async () => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, protocol: 2 });
    r.on('error', () => undefined);
    try {
      await r.connect();
      // PONG only once the AOF is loaded (LOADING errors before).
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  };
  const redis: PrivateRedis = {
    port,
    url,
    dir,
    confSource: 'deploy/redis.conf',
    get running() {
      return proc !== null && proc.exitCode === null && proc.signalCode === null;
    },
    get pid() {
      return redis.running ? (proc?.pid ?? null) : null;
    },
    async start() {
      if (redis.running) return;
      const p = spawn('redis-server', args, { stdio: 'ignore' });
      p.on('error', () => undefined);
      proc = p;
      await waitFor(async () => {
        if (p.exitCode !== null) throw new Error(`redis-server exited with ${p.exitCode}; see ${join(dir, 'redis.log')}`);
        return ping();
      }, 30_000, `private redis-server on ${port}`, 50);
    },
    async kill9() {
      await ended(proc, 'SIGKILL');
      proc = null;
    },
    async stop() {
      await ended(proc, 'SIGTERM');
      proc = null;
    },
    async settings() {
      const r = new Redis(url, { maxRetriesPerRequest: 1, protocol: 2 });
      r.on('error', () => undefined);
      try {
        const out: Record<string, string> = {};
        for (const name of ['appendonly', 'appendfsync', 'maxmemory-policy', 'save', 'aof-load-truncated', 'no-appendfsync-on-rewrite']) {
          const [, value] = (await r.config('GET', name)) as string[];
          out[name] = value ?? '';
        }
        return out;
      } finally {
        r.disconnect();
      }
    },
  };
  return redis;
}
