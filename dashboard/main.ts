/**
 * The dashboard app: bull-board for every queue, /health and /metrics,
 * bound to COINEREX_DASHBOARD_HOST:PORT (default 127.0.0.1:3000).
 */
import { runApp } from '../shared/app-runner.js';
import { closeInOrder } from '../shared/close.js';
import { agentApps } from '../shared/app-health.js';
import { allQueueNames } from '../queue/names.js';
import { makeQueue } from '../queue/connection.js';
import { accessPolicy } from './access.js';
import { buildDashboard } from './server.js';

await runApp('dashboard', async ({ config, log, keys, redis }) => {
  // Before anything else: an unprotected dashboard on the network must never start.
  const credentials = accessPolicy(config.dashboardHost, config.dashboardUser, config.dashboardPassword);
  if (!credentials) log.warn('dashboard without credentials: reachable from this machine only');
  const queues = allQueueNames.map((name) => makeQueue(name, redis, keys.bullPrefix, log));
  const server = await buildDashboard({
    redis,
    keys,
    queues,
    credentials,
    apps: agentApps,
    watchdogMs: config.watchdogSeconds * 1000,
    memoryAlarmPercent: config.redisMemoryAlarmPercent,
    now: Date.now,
    title: `Coinerex ${config.deviceId}`,
    log,
  });
  const address = await server.listen({ host: config.dashboardHost, port: config.dashboardPort });
  log.info({ address }, 'dashboard listening');
  return {
    close: closeInOrder(
      [
        { name: 'http server', run: () => server.close() },
        { name: 'queues', run: () => Promise.all(queues.map((q) => q.close())) },
      ],
      { log },
    ),
  };
});
