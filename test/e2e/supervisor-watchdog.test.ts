/**
 * The supervisor under a private PM2 daemon: an app whose event loop is
 * frozen (SIGSTOP) is restarted within the watchdog window and nothing else
 * is; the restart shows in /metrics, in the apps-health key, in the
 * heartbeat diagnostics and in `coinerex status`; a soft-restart request restarts the supervisor itself.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startStack, ROOT, type Pm2Stack } from '../helpers/pm2.js';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';
import { readAppsHealth } from '../../shared/app-health.js';
import { pushRestartRequest } from '../../shared/restart-request.js';
import { systemClock } from '../../shared/clock.js';
import { readDiagnostics } from '../../workers/mqtt/diagnostics.js';

const run = promisify(execFile);
const WATCHDOG_S = 3;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

let stack: Pm2Stack;
let redis: Redis;
let port: number;
let env: ReturnType<typeof testEnv>;

test.before(async () => {
  port = await freePort();
  env = testEnv({ COINEREX_WATCHDOG_SECONDS: String(WATCHDOG_S), COINEREX_DASHBOARD_PORT: String(port) });
  redis = new Redis(REDIS_URL, { protocol: 2 });
  stack = await startStack(['supervisor', 'dashboard', 'cloud-sim'], env.env);
  // The supervisor reports all three once it has looked at PM2.
  await waitFor(async () => (await readAppsHealth(redis, env.keys)).filter((a) => a.status === 'online').length === 3, 20_000, 'apps health');
});

test.after.always(async () => {
  await stack?.destroy();
  await cleanupRedis(env.prefix);
  redis?.disconnect();
});

const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

test.serial('a frozen app is restarted within the window, and nothing else is', async (t) => {
  const before = new Map((await stack.list()).map((p) => [p.name, p]));
  const frozen = before.get('cloud-sim')!.pid;
  const stoppedAt = Date.now();
  process.kill(frozen, 'SIGSTOP');
  // Window: the watchdog, one supervisor tick, PM2's kill_timeout (10 s: SIGINT cannot reach a stopped process) and a start.
  const fresh = await stack.waitOnline('cloud-sim', frozen, 30_000);
  const took = Date.now() - stoppedAt;
  t.true(took >= WATCHDOG_S * 1000, `restarted after ${took} ms, before the window`);
  t.true(took < (WATCHDOG_S + 1 + 10 + 6) * 1000, `restarted after ${took} ms`);
  t.not(fresh, frozen);

  const after = new Map((await stack.list()).map((p) => [p.name, p]));
  for (const name of ['supervisor', 'dashboard']) {
    t.is(after.get(name)!.pid, before.get(name)!.pid, `${name} kept running`);
    t.is(after.get(name)!.restarts, before.get(name)!.restarts, `${name} not restarted`);
  }

  // The supervisor writes its metrics once per flush interval.
  await waitFor(async () => /^app_restarts_total\{app="cloud-sim",reason="watchdog"\} 1$/m.test(await metrics()), 5000, 'restart counted').catch(() => undefined);
  t.regex(await metrics(), /^app_restarts_total\{app="cloud-sim",reason="watchdog"\} 1$/m);
  t.notRegex(await metrics(), /app_restarts_total\{app="dashboard"/);
  // PM2 already names the new pid while it is still `launching`; the supervisor's next look sees it online.
  const health = await waitFor(
    async () => (await readAppsHealth(redis, env.keys)).find((a) => a.name === 'cloud-sim' && a.pid === fresh && a.status === 'online'),
    10_000,
    'health of the new process, online',
  );
  t.is(health.watchdogRestarts, 1);
  t.is(health.status, 'online');
  t.true(health.memoryBytes! > 0);
  // What a heartbeat with diagnostics (query include_diagnostics) carries for the app.
  const diagnostics = (await readDiagnostics(redis, env.keys, [], systemClock)) as { apps: Record<string, { watchdog_restarts: number; status: string }> };
  t.like(diagnostics.apps['cloud-sim'], { watchdog_restarts: 1 });
  t.like(diagnostics.apps.dashboard, { watchdog_restarts: 0 });

  const { stdout } = await run(join(ROOT, 'bin', 'coinerex'), ['status'], { env: { ...process.env, ...env.env } });
  t.regex(stdout, /cloud-sim\s+online\s+\d+\s+\S+( \S+)?\s+1\s+1\s/);
});

test.serial('a restarted app gets its grace period: no second restart while it beats', async (t) => {
  const pid = await stack.pid('cloud-sim');
  const until = Date.now() + 2 * WATCHDOG_S * 1000;
  // Wait on the supervisor's own reports, two watchdog windows' worth.
  await waitFor(async () => (await readAppsHealth(redis, env.keys)).some((a) => a.updatedAt > until), 20_000, 'supervisor ticks');
  t.is(await stack.pid('cloud-sim'), pid);
  t.regex(await metrics(), /^app_restarts_total\{app="cloud-sim",reason="watchdog"\} 1$/m);
});

test.serial('a soft-restart request restarts the agent apps, the supervisor last', async (t) => {
  const before = new Map((await stack.list()).map((p) => [p.name, p.pid]));
  await pushRestartRequest(redis, env.keys, { requestId: randomUUID(), at: Date.now(), reason: 'test', type: 'soft' });
  const fresh = await stack.waitOnline('supervisor', before.get('supervisor'), 30_000);
  t.not(fresh, before.get('supervisor'));
  // Demo extras are not agent apps: untouched.
  t.is(await stack.pid('dashboard'), before.get('dashboard')!);
  t.is(await stack.pid('cloud-sim'), before.get('cloud-sim')!);
  t.is(await redis.llen(env.keys.restartRequests), 0);
  await waitFor(async () => /^app_restarts_total\{app="supervisor",reason="soft_restart"\} 1$/m.test(await metrics()), 5000, 'soft restart counted').catch(() => undefined);
  t.regex(await metrics(), /^app_restarts_total\{app="supervisor",reason="soft_restart"\} 1$/m);
});
