/**
 * The supervisor's view of PM2: list the apps with their state, restart one.
 * The real adapter talks to the running PM2 daemon over its RPC socket
 * (never launches one); tests can pass any ProcessControl.
 */
import pm2 from 'pm2';

export interface ManagedProcess {
  name: string;
  /** PM2 status: online, stopping, stopped, launching, errored, … */
  status: string;
  pid: number | null;
  /** Epoch ms of the last (re)start. */
  startedAt: number | null;
  /** PM2's restart count (every cause). */
  restarts: number;
  memoryBytes: number | null;
  cpuPercent: number | null;
}

export interface ProcessControl {
  list(): Promise<ManagedProcess[]>;
  /** Graceful restart: PM2 sends SIGINT, then SIGKILL after the app's kill_timeout. */
  restart(name: string): Promise<void>;
  close(): Promise<void>;
}

type Pm2Api = typeof pm2;
type Pm2Ctor = new (opts: { pm2_home?: string }) => Pm2Api;

/** Connects to the PM2 daemon that runs this process (PM2_HOME of its environment). Fails when none is running. */
export async function connectPm2(pm2Home: string | undefined): Promise<ProcessControl> {
  const api: Pm2Api = pm2Home ? new (pm2 as unknown as { custom: Pm2Ctor }).custom({ pm2_home: pm2Home }) : pm2;
  await new Promise<void>((resolve, reject) => api.connect((err) => (err ? reject(err) : resolve())));
  return {
    list: () =>
      new Promise((resolve, reject) =>
        api.list((err, procs) => {
          if (err) return reject(err);
          resolve(
            procs.map((p) => ({
              name: p.name ?? String(p.pm_id),
              status: p.pm2_env?.status ?? 'unknown',
              pid: p.pid && p.pid > 0 ? p.pid : null,
              startedAt: p.pm2_env?.pm_uptime ?? null,
              restarts: p.pm2_env?.restart_time ?? 0,
              memoryBytes: p.monit?.memory ?? null,
              cpuPercent: p.monit?.cpu ?? null,
            })),
          );
        }),
      ),
    restart: (name) => new Promise((resolve, reject) => api.restart(name, (err) => (err ? reject(err) : resolve()))),
    close: async () => api.disconnect(),
  };
}
