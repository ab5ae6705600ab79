/**
 * Runs apps of ecosystem.config.js under PM2 with an isolated PM2_HOME, for
 * end-to-end tests: start, kill -9, restart, stop. Drives the real `pm2` CLI
 * so the tests exercise exactly what an engineer runs on the board.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './env.js';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../..');
const PM2_BIN = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const ECOSYSTEM = join(ROOT, 'ecosystem.config.js');

/**
 * `pm2 set pm2:sysmonit false`: PM2's host metrics sweep /proc and /sys every
 * 30 s (most of its daemon's idle wake-ups) for a view the agent does not use.
 */
const PM2_BOARD_SETTINGS = { pm2: { sysmonit: 'false' } };

export interface Pm2Process {
  name: string;
  pid: number;
  status: string;
  restarts: number;
}

export interface Pm2Stack {
  home: string;
  env: Record<string, string>;
  pm2(...args: string[]): Promise<string>;
  list(): Promise<Pm2Process[]>;
  pid(app: string): Promise<number>;
  /** Waits until `app` is online with a pid different from `notPid`. */
  waitOnline(app: string, notPid?: number, timeoutMs?: number): Promise<number>;
  /** kill -9 the app's process; PM2 restarts it. Resolves with the new pid once online. */
  kill9(app: string): Promise<number>;
  restart(app: string): Promise<number>;
  stop(app: string): Promise<void>;
  /** Kills the isolated daemon and removes its home. */
  destroy(): Promise<void>;
}

/** Starts `apps` (names in ecosystem.config.js) with the given COINEREX_* env under a private PM2 daemon. */
export async function startStack(apps: string[], env: Record<string, string>, profile: 'demo' | 'production' = 'demo'): Promise<Pm2Stack> {
  const home = await mkdtemp(join(tmpdir(), 'coinerex-pm2-'));
  // PM2 as docs/deploy.md sets it up on a board: no host metrics, no version check.
  await writeFile(join(home, 'module_conf.json'), JSON.stringify(PM2_BOARD_SETTINGS));
  const childEnv = { ...process.env, ...env, PM2_HOME: home, PM2_DISABLE_VERSION_CHECK: '1' };
  const pm2 = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, [PM2_BIN, ...args], { env: childEnv, cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  };
  const list = async (): Promise<Pm2Process[]> => {
    const raw = JSON.parse(await pm2('jlist')) as Array<{ name: string; pid: number; pm2_env: { status: string; restart_time: number } }>;
    return raw.map((p) => ({ name: p.name, pid: p.pid, status: p.pm2_env.status, restarts: p.pm2_env.restart_time }));
  };
  const pid = async (app: string): Promise<number> => {
    const p = (await list()).find((x) => x.name === app);
    if (!p) throw new Error(`app ${app} is not in PM2`);
    return p.pid;
  };
  const waitOnline = (app: string, notPid?: number, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const p = (await list()).find((x) => x.name === app);
        return p && p.status === 'online' && p.pid > 0 && p.pid !== notPid ? p.pid : 0;
      },
      timeoutMs,
      `${app} online`,
      100,
    );
  const stack: Pm2Stack = {
    home,
    env,
    pm2,
    list,
    pid,
    waitOnline,
    async kill9(app) {
      const old = await pid(app);
      process.kill(old, 'SIGKILL');
      return waitOnline(app, old);
    },
    async restart(app) {
      const old = await pid(app);
      await pm2('restart', app);
      return waitOnline(app, old);
    },
    async stop(app) {
      await pm2('stop', app);
    },
    async destroy() {
      await pm2('kill').catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
  const args = ['start', ECOSYSTEM, '--only', apps.join(',')];
  args.push('--env', profile);
  try {
    await pm2(...args);
    for (const app of apps) await waitOnline(app);
  } catch (err) {
    await stack.destroy();
    throw err;
  }
  return stack;
}
