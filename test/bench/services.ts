/**
 * A private Mosquitto and a private Redis for the benchmark, each on its own
 * port in a temp dir, so other tests on the shared services do not disturb
 * the measurement (and the benchmark does not disturb them). Redis runs with
 * the production persistence (AOF, fsync per write) on the temp dir's disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/app-process.js';
import { waitFor } from '../helpers/env.js';
import { ROOT } from '../helpers/pm2.js';

export interface Service {
  port: number;
  url: string;
  pid(): number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
}

export interface Services {
  dir: string;
  broker: Service;
  redis: Service;
  close(): Promise<void>;
}

/** The shipped Redis settings, used when deploy/redis.conf exists; else the same choices inline (docs/durability.md). */
const SHIPPED_REDIS_CONF = join(ROOT, 'deploy', 'redis.conf');
const REDIS_FALLBACK = [
  '--appendonly', 'yes', '--appendfsync', 'always', '--no-appendfsync-on-rewrite', 'no', '--aof-use-rdb-preamble', 'yes',
  '--maxmemory', '128mb', '--maxmemory-policy', 'noeviction',
];

export interface ServiceOptions {
  /** Overrides the shipped `appendfsync` (to measure what the fsync per write costs). */
  appendfsync?: 'always' | 'everysec' | 'no' | undefined;
}

export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function service(port: number, url: string, launch: () => ChildProcess): Service {
  let child: ChildProcess | undefined;
  return {
    port,
    url,
    pid: () => child?.pid ?? 0,
    async start() {
      child = launch();
      child.on('error', () => undefined);
      await waitFor(() => accepting(port), 10_000, `${url} accepting`, 5);
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startServices(o: ServiceOptions = {}): Promise<Services> {
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-bench-'));
  const [brokerPort, redisPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'mosquitto.conf');
  // A tuned cloud broker: no Nagle on its sockets (PITFALLS.md §9).
  await writeFile(conf, `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\nlog_dest none\n`);
  const broker = service(brokerPort, `mqtt://127.0.0.1:${brokerPort}`, () => spawn('mosquitto', ['-c', conf], { stdio: 'ignore' }));
  const redisArgs = [
    ...(existsSync(SHIPPED_REDIS_CONF) ? [SHIPPED_REDIS_CONF] : REDIS_FALLBACK),
    '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', '', '--save', '',
    ...(o.appendfsync ? ['--appendfsync', o.appendfsync] : []),
  ];
  const redis = service(redisPort, `redis://127.0.0.1:${redisPort}`, () => spawn('redis-server', redisArgs, { stdio: 'ignore' }));
  await broker.start();
  await redis.start();
  return {
    dir,
    broker,
    redis,
    async close() {
      await broker.stop();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
