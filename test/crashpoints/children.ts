/**
 * The agent's apps as plain child processes with PM2's contract (`ready`
 * over IPC, logs under `<home>/logs/<app>-out.log`), shaped as a Pm2Stack so
 * the chaos rig, settle and evidence code runs on it unchanged. A restart
 * takes a fraction of PM2's time, which is what lets the crash-point tier
 * kill and restart an app a few hundred times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pm2Process, Pm2Stack } from '../helpers/pm2.js';
import { ROOT } from '../helpers/pm2.js';
import { waitFor } from '../helpers/env.js';

const scripts: Record<string, string> = {
  hardware: 'workers/hardware/main.js',
  business: 'workers/business/main.js',
  mqtt: 'workers/mqtt/main.js',
  supervisor: 'supervisor/main.js',
  dashboard: 'dashboard/main.js',
};

interface Running {
  child: ChildProcess;
  ready: boolean;
  exited: Promise<void>;
  restarts: number;
}

export interface ChildStack extends Pm2Stack {
  /** (Re)starts `app` with `extra` on top of the stack's env; resolves with its pid once it said `ready`. */
  start(app: string, extra?: Record<string, string>): Promise<number>;
  /** Resolves once `app`'s current process has exited (also when it already has). */
  exited(app: string): Promise<void>;
  alive(app: string): boolean;
  signal(app: string, sig: NodeJS.Signals): void;
}

export async function startChildren(apps: string[], env: Record<string, string>): Promise<ChildStack> {
  const home = await mkdtemp(join(tmpdir(), 'coinerex-children-'));
  await mkdir(join(home, 'logs'));
  const running = new Map<string, Running>();
  const alive = (app: string) => {
    const r = running.get(app);
    return !!r && r.child.exitCode === null && r.child.signalCode === null;
  };
  const stopOne = async (app: string) => {
    const r = running.get(app);
    if (!r || !alive(app)) return;
    r.child.kill('SIGTERM');
    const t = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
    await r.exited;
    clearTimeout(t);
  };
  const start = async (app: string, extra: Record<string, string> = {}) => {
    await stopOne(app);
    const log = await open(join(home, 'logs', `${app}-out.log`), 'a');
    const child = spawn(process.execPath, [join(ROOT, 'dist', scripts[app]!)], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...extra },
      stdio: ['ignore', log.fd, log.fd, 'ipc'],
    });
    const r: Running = {
      child,
      ready: false,
      restarts: (running.get(app)?.restarts ?? -1) + 1,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    void r.exited.then(() => log.close());
    child.on('message', (m) => {
      if (m === 'ready') r.ready = true;
    });
    running.set(app, r);
    await waitFor(() => r.ready || !alive(app), 90_000, `${app} ready`, 20);
    if (!r.ready) throw new Error(`${app} exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`);
    return child.pid!;
  };
  const list = async (): Promise<Pm2Process[]> =>
    [...running].map(([name, r]) => ({ name, pid: r.child.pid ?? 0, status: alive(name) && r.ready ? 'online' : 'stopped', restarts: r.restarts }));
  const pid = async (app: string) => {
    const r = running.get(app);
    if (!r || !alive(app)) throw new Error(`app ${app} is not running`);
    return r.child.pid!;
  };
  const stack: ChildStack = {
    home,
    env,
    pm2: () => Promise.reject(new Error('not under PM2')),
    list,
    pid,
    waitOnline: (app, notPid, timeoutMs = 30_000) =>
      waitFor(() => (alive(app) && running.get(app)!.ready && running.get(app)!.child.pid !== notPid ? running.get(app)!.child.pid! : 0), timeoutMs, `${app} online`, 20),
    async kill9(app) {
      running.get(app)?.child.kill('SIGKILL');
      await running.get(app)?.exited;
      return start(app);
    },
    restart: (app) => start(app),
    stop: stopOne,
    async destroy() {
      await Promise.all([...running.keys()].map(stopOne));
      await rm(home, { recursive: true, force: true });
    },
    start,
    exited: async (app) => running.get(app)?.exited,
    alive,
    signal(app, sig) {
      if (alive(app)) running.get(app)!.child.kill(sig);
    },
  };
  try {
    await Promise.all(apps.map((a) => start(a)));
  } catch (err) {
    await stack.destroy();
    throw err;
  }
  return stack;
}
