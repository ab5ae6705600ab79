/**
 * The supervisor app: watchdog over the other PM2 apps, per-app health in
 * Redis, and the executor of soft/hard restart requests (docs/architecture.md#processes).
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { runApp } from '../shared/app-runner.js';
import { systemClock } from '../shared/clock.js';
import { redisMetrics } from '../shared/metrics.js';
import { connectPm2 } from './process-control.js';
import { restartExecutor } from './restart-requests.js';
import { startSupervisor } from './supervisor.js';

const run = promisify(execFile);

await runApp('supervisor', async ({ app, config, log, keys, redis }) => {
  // pm2.connect() would launch a daemon of its own when none runs: only ever talk to the one that runs us.
  if (process.env.pm_id === undefined) throw new Error('the supervisor runs under PM2 (pm2 start ecosystem.config.js)');
  // PM2's API prints CLI hints on stdout; keep the log JSON.
  process.env.PM2_SILENT = 'true';
  const control = await connectPm2(process.env.PM2_HOME);
  const metrics = redisMetrics(redis, keys);
  const watchdogMs = config.watchdogSeconds * 1000;
  return startSupervisor({
    redis,
    keys,
    control,
    metrics,
    log,
    clock: systemClock,
    monotonic: () => performance.now(),
    watchdogMs,
    pollMs: Math.min(5_000, Math.max(500, Math.floor(watchdogMs / 3))),
    restarts: restartExecutor({
      control,
      metrics,
      log,
      self: app,
      allowHardRestart: config.allowHardRestart,
      reboot: async () => void (await run('systemctl', ['reboot'])),
    }),
  });
});
