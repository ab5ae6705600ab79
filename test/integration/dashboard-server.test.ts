/**
 * The dashboard app as started by PM2 (spawned here): basic auth, the
 * loopback exemption for /health and /metrics, every queue in bull-board,
 * /metrics values that move with the apps' metrics, /health reasons, and
 * the refusal to serve an open dashboard on the network.
 */
import test from 'ava';
import { networkInterfaces } from 'node:os';
import { Redis } from 'ioredis';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';
import { spawnApp, freePort, type AppProcess } from '../helpers/app-process.js';
import { fakeBeats, type FakeBeats } from '../helpers/beats.js';
import { redisMetrics } from '../../shared/metrics.js';
import { agentApps, setMqttLink } from '../../shared/app-health.js';
import { allQueueNames } from '../../queue/names.js';

const USER = 'operator';
const PASSWORD = 'correct horse';
const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

let env: ReturnType<typeof testEnv>;
let dash: AppProcess;
let redis: Redis;
let base: string;
let beats: NodeJS.Timeout;
let fake: FakeBeats;

const beat = (apps: readonly string[]) => fake.beat(apps);

test.before(async () => {
  const port = await freePort();
  // Bound to every interface: allowed because credentials are set; lets the test come from a non-loopback address.
  env = testEnv({ COINEREX_DASHBOARD_HOST: '0.0.0.0', COINEREX_DASHBOARD_PORT: String(port), COINEREX_DASHBOARD_USER: USER, COINEREX_DASHBOARD_PASSWORD: PASSWORD, COINEREX_WATCHDOG_SECONDS: '2' });
  base = `http://127.0.0.1:${port}`;
  redis = new Redis(REDIS_URL, { protocol: 2 });
  fake = fakeBeats(REDIS_URL, env.keys);
  dash = spawnApp('dashboard', env.env);
  await waitFor(() => fetch(`${base}/metrics`).then((r) => r.ok), 10_000, 'dashboard up');
});

test.after.always(async () => {
  clearInterval(beats);
  fake?.close();
  await dash?.stop();
  await cleanupRedis(env.prefix);
  redis?.disconnect();
});

test.serial('bull-board needs credentials and then shows every queue, read-only', async (t) => {
  const none = await fetch(`${base}/queues`);
  t.is(none.status, 401);
  t.regex(none.headers.get('www-authenticate') ?? '', /^Basic realm="Coinerex dashboard"/);
  t.is((await fetch(`${base}/queues`, { headers: auth(USER, 'wrong') })).status, 401);
  t.is((await fetch(`${base}/queues/api/queues`, { headers: auth('admin', PASSWORD) })).status, 401);
  const ok = await fetch(`${base}/queues/api/queues`, { headers: auth(USER, PASSWORD) });
  t.is(ok.status, 200);
  const body = (await ok.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
  t.deepEqual(body.queues.map((q) => q.name).sort(), [...allQueueNames].sort());
  t.true(body.queues.every((q) => q.readOnlyMode));
  // Writes are refused even with credentials.
  const clean = await fetch(`${base}/queues/api/queues/outbox/clean/completed`, { method: 'PUT', headers: auth(USER, PASSWORD) });
  t.true(clean.status >= 400, `clean answered ${clean.status}`);
});

test.serial('/health and /metrics: open on loopback, credentials needed from the network', async (t) => {
  t.not((await fetch(`${base}/health`)).status, 401);
  t.is((await fetch(`${base}/metrics`)).status, 200);
  if (!lanAddress) {
    t.log('no non-loopback IPv4 interface on this machine: network side not checked');
    return;
  }
  const lan = base.replace('127.0.0.1', lanAddress);
  t.is((await fetch(`${lan}/health`)).status, 401);
  t.is((await fetch(`${lan}/metrics`)).status, 401);
  t.not((await fetch(`${lan}/health`, { headers: auth(USER, PASSWORD) })).status, 401);
});

test.serial('/health: 503 naming each problem, 200 when Redis, broker link and every agent app are fine', async (t) => {
  const first = await fetch(`${base}/health`);
  t.is(first.status, 503);
  const report = (await first.json()) as { reasons: string[]; broker: string };
  t.is(report.broker, 'unknown');
  t.true(report.reasons.includes('broker link unknown: the mqtt app has not reported it'));
  for (const app of agentApps) t.true(report.reasons.includes(`app ${app} is not running (no liveness beat)`), app);

  await setMqttLink(redis, env.keys, true, Date.now());
  await beat(agentApps);
  beats = setInterval(() => void beat(agentApps.filter((a) => a !== 'business')), 500);
  const healthy = await fetch(`${base}/health`);
  t.is(healthy.status, 200, JSON.stringify(await healthy.clone().json()));
  t.like(await healthy.json(), { status: 'ok', reasons: [], redis: 'ok', broker: 'connected' });

  // business stops beating: unhealthy once its beat is older than the watchdog window (2 s).
  const sick = await waitFor(async () => {
    const r = await fetch(`${base}/health`);
    return r.status === 503 ? ((await r.json()) as { reasons: string[] }) : null;
  }, 6_000, '503');
  t.is(sick.reasons.length, 1);
  t.regex(sick.reasons[0]!, /^app business is not beating \(last beat \d+ s ago\)$/);

  await setMqttLink(redis, env.keys, false, Date.parse('2026-01-02T03:04:05Z'));
  const down = (await (await fetch(`${base}/health`)).json()) as { reasons: string[]; broker: string };
  t.is(down.broker, 'disconnected');
  t.true(down.reasons.includes('broker disconnected since 2026-01-02T03:04:05.000Z'));
});

test.serial('/metrics renders the apps\' counters and histograms, and the values move', async (t) => {
  const m = redisMetrics(redis, env.keys);
  m.incr('messages_published_total', { type: 'transaction' });
  m.incr('messages_published_total', { type: 'transaction' });
  m.incr('messages_published_total', { type: 'heartbeat' });
  m.observe('ack_latency_ms', 7);
  m.observe('ack_latency_ms', 300);
  m.set('offline_buffer_size', 4);
  m.incr('app_restarts_total', { app: 'mqtt', reason: 'watchdog' });
  await waitFor(async () => (await redis.hget(env.keys.metrics, 'app_restarts_total{app="mqtt",reason="watchdog"}')) === '1', 2_000, 'metrics written');
  const text = await (await fetch(`${base}/metrics`)).text();
  t.regex(text, /^# TYPE messages_published_total counter$/m);
  t.regex(text, /^messages_published_total\{type="transaction"\} 2$/m);
  t.regex(text, /^messages_published_total\{type="heartbeat"\} 1$/m);
  t.regex(text, /^# TYPE ack_latency_ms histogram$/m);
  t.regex(text, /^ack_latency_ms_bucket\{le="5"\} 0$/m);
  t.regex(text, /^ack_latency_ms_bucket\{le="10"\} 1$/m);
  t.regex(text, /^ack_latency_ms_bucket\{le="500"\} 2$/m);
  t.regex(text, /^ack_latency_ms_bucket\{le="\+Inf"\} 2$/m);
  t.regex(text, /^ack_latency_ms_sum 307$/m);
  t.regex(text, /^ack_latency_ms_count 2$/m);
  // Buckets in ascending order, as Prometheus requires.
  t.true(text.indexOf('le="5"}') < text.indexOf('le="10"}') && text.indexOf('le="120000"}') < text.indexOf('le="+Inf"}'));
  t.regex(text, /^# TYPE offline_buffer_size gauge$/m);
  t.regex(text, /^offline_buffer_size 4$/m);
  t.regex(text, /^app_restarts_total\{app="mqtt",reason="watchdog"\} 1$/m);
  t.regex(text, /^app_up\{app="hardware"\} 1$/m);
  t.regex(text, /^app_up\{app="business"\} 0$/m);
  t.regex(text, /^broker_connected 0$/m);

  m.incr('messages_published_total', { type: 'transaction' });
  m.incr('app_restarts_total', { app: 'mqtt', reason: 'watchdog' });
  await waitFor(async () => (await redis.hget(env.keys.metrics, 'app_restarts_total{app="mqtt",reason="watchdog"}')) === '2', 2_000, 'metrics written');
  const later = await (await fetch(`${base}/metrics`)).text();
  t.regex(later, /^messages_published_total\{type="transaction"\} 3$/m);
  t.regex(later, /^app_restarts_total\{app="mqtt",reason="watchdog"\} 2$/m);
});

for (const [name, extra, message] of [
  ['a non-loopback address without credentials', {}, /refusing to serve the dashboard on 0\.0\.0\.0 without credentials/],
  ['a user without a password', { COINEREX_DASHBOARD_USER: 'operator' }, /COINEREX_DASHBOARD_USER and COINEREX_DASHBOARD_PASSWORD must be set together/],
] as const) {
  test(`refuses to start on ${name}`, async (t) => {
    const port = await freePort();
    const p = spawnApp('dashboard', { ...testEnv().env, COINEREX_DASHBOARD_HOST: '0.0.0.0', COINEREX_DASHBOARD_PORT: String(port), ...extra });
    const code = await p.exited;
    t.not(code, 0);
    t.truthy(p.lines.find((l) => message.test(l)), p.lines.join('\n'));
    await t.throwsAsync(fetch(`http://127.0.0.1:${port}/health`));
  });
}
