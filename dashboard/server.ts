/**
 * The dashboard's HTTP server: bull-board (read-only) for every queue under
 * /queues, /health and /metrics, all behind the access rules of access.ts.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastifyBasicAuth from '@fastify/basic-auth';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisKeys } from '../shared/keys.js';
import { credentialsMatch, isLoopback, openOnLoopback, type Credentials } from './access.js';
import { checkHealth } from './health.js';
import { familiesFromHash, helpFor, renderPrometheus, type Family } from './prometheus.js';

export interface DashboardOptions {
  redis: Redis;
  keys: RedisKeys;
  queues: readonly Queue[];
  /** null: no auth (only allowed on loopback, see accessPolicy). */
  credentials: Credentials | null;
  /** Apps that must beat for /health to be ok. */
  apps: readonly string[];
  watchdogMs: number;
  /** /health fails at this share of Redis maxmemory (COINEREX_REDIS_MEMORY_ALARM_PERCENT). */
  memoryAlarmPercent?: number;
  now: () => number;
  title: string;
  log: Logger;
}

export const QUEUES_PATH = '/queues';

/** Gauges computed at scrape time from the health report: whether each app beats and the broker link. */
function healthFamilies(report: Awaited<ReturnType<typeof checkHealth>>): Family[] {
  const up: Family = { name: 'app_up', help: helpFor('app_up'), type: 'gauge', values: [] };
  for (const [app, s] of Object.entries(report.apps)) up.values.push({ metricName: 'app_up', labels: { app }, value: s.alive ? 1 : 0 });
  const out = [up];
  if (report.broker !== 'unknown') {
    out.push({ name: 'broker_connected', help: helpFor('broker_connected'), type: 'gauge', values: [{ metricName: 'broker_connected', labels: {}, value: report.broker === 'connected' ? 1 : 0 }] });
  }
  return out;
}

export async function buildDashboard(o: DashboardOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({ loggerInstance: o.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  const credentials = o.credentials;
  if (credentials) {
    await app.register(fastifyBasicAuth, {
      validate: async (user, password) => {
        if (!credentialsMatch(credentials, user, password)) return new Error('wrong user or password');
      },
      authenticate: { realm: 'Coinerex dashboard' },
    });
    app.addHook('onRequest', (req, reply, done) => {
      const path = req.url.split('?')[0] ?? '';
      if (openOnLoopback.has(path) && isLoopback(req.socket.remoteAddress ?? '')) return done();
      app.basicAuth(req, reply, done);
    });
  }

  const health = () => checkHealth({ redis: o.redis, keys: o.keys, apps: o.apps, watchdogMs: o.watchdogMs, now: o.now, memoryAlarmPercent: o.memoryAlarmPercent });

  app.get('/health', async (_req, reply) => {
    const report = await health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.get('/metrics', async (_req, reply) => {
    const report = await health();
    if (report.redis !== 'ok') return reply.code(503).type('text/plain').send(`${report.reasons.join('\n')}\n`);
    const hash = await o.redis.hgetall(o.keys.metrics);
    const families = [...familiesFromHash(hash), ...healthFamilies(report)].sort((a, b) => a.name.localeCompare(b.name));
    const { contentType, body } = await renderPrometheus(families);
    return reply.type(contentType).send(body);
  });

  const board = new FastifyAdapter();
  createBullBoard({
    queues: o.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: o.title, hideDocsLink: true } },
  });
  board.setBasePath(QUEUES_PATH);
  await app.register(board.registerPlugin(), { prefix: QUEUES_PATH });
  app.get('/', (_req, reply) => reply.redirect(QUEUES_PATH));
  return app;
}
