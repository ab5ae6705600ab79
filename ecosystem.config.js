// PM2 apps of the Coinerex agent (docs/architecture.md#processes).
// ESM: Node >= 20.19 lets PM2 require() this file; PM2 reads the `apps` export.
//
//   demo:        pm2 start ecosystem.config.js --env demo       (simulator, simulated customers, cloud-sim)
//   production:  pm2 start ecosystem.config.js --env production --only hardware,business,mqtt,supervisor
//
// Variables (COINEREX_*) come from the calling environment and COINEREX_CONFIG; see README.md.
// PM2 merges `env` under the chosen `env_<profile>`, so `env` holds nothing profile-specific:
// the demo defaults live in `env_demo` only and never reach production.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(fileURLToPath(import.meta.url));
const env = process.env;

/** Options every app shares: one forked instance (the serial port and the MQTT client id each need a single owner). */
const common = {
  cwd: root,
  exec_mode: 'fork',
  instances: 1,
  autorestart: true,
  // Back-off on crash loops (1.5x per restart, capped at 15 s by PM2) so an app that starts before Redis never ends `errored`.
  exp_backoff_restart_delay: 200,
  // Our own shutdown gives up after 8 s (shared/app-runner.ts); PM2 must wait longer before SIGKILL.
  kill_timeout: 10_000,
  wait_ready: true,
  listen_timeout: 15_000,
  max_memory_restart: '160M',
  // PM2's own per-app instrumentation costs memory on a 1 GB board.
  pmx: false,
  automation: false,
  time: false,
  merge_logs: true,
};

/** Demo defaults (`--env demo`): only where the caller did not set the variable. */
const demo = {
  COINEREX_MODE: env.COINEREX_MODE ?? 'demo',
  COINEREX_SIM_CUSTOMERS_PER_MINUTE: env.COINEREX_SIM_CUSTOMERS_PER_MINUTE ?? '6',
  COINEREX_HEARTBEAT_SECONDS: env.COINEREX_HEARTBEAT_SECONDS ?? '30',
  COINEREX_LOG_PRETTY: env.COINEREX_LOG_PRETTY ?? '1',
};
const production = { COINEREX_MODE: 'production', COINEREX_LOG_PRETTY: '0', UV_USE_IO_URING: '0' };

const app = (name, script, heapMb, extra = {}) => ({
  ...common,
  name,
  script: join(root, 'dist', script),
  // Memory over speed, each measured by npm run bench (docs/performance.md): a 1 MB young generation
  // (V8 otherwise grows it to 2 x 16 MB under load and keeps it), V8's smaller-footprint mode and one
  // background thread instead of four: 228 -> 200 MB total PSS, no measurable CPU cost per exchange.
  node_args: `--max-old-space-size=${heapMb} --max-semi-space-size=1 --optimize-for-size --v8-pool-size=1`,
  env: {},
  env_demo: demo,
  env_production: production,
  ...extra,
});

export const apps = [
  // First: PM2 starts two apps at a time and waits for them to be ready; the mqtt app needs no
  // other app and sends the heartbeat the cloud waits for (docs/performance.md, start → heartbeat).
  app('mqtt', 'workers/mqtt/main.js', 64),
  // io_uring off: serial ports that never close on early Node 20 (docs/pitfalls.md#5-serialport).
  app('hardware', 'workers/hardware/main.js', 64, { env: { UV_USE_IO_URING: '0' } }),
  app('business', 'workers/business/main.js', 96),
  app('supervisor', 'supervisor/main.js', 48),
  app('dashboard', 'dashboard/main.js', 96),
  // Demo profile only: plays the cloud on the local broker.
  app('cloud-sim', 'cloud-sim/main.js', 64),
];
