/**
 * /health follows the broker link as the real mqtt app reports it: 200 with
 * the broker up, 503 "broker disconnected" once a private mosquitto is
 * stopped, 200 again after it is back. The other agent apps are not under
 * test; their liveness beats are given here (test/helpers/beats.ts).
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';
import { spawnApp, freePort, type AppProcess } from '../helpers/app-process.js';
import { fakeBeats, type FakeBeats } from '../helpers/beats.js';

const dir = mkdtempSync(join(tmpdir(), 'coinerex-broker-'));
let brokerPort: number;
let broker: ChildProcess | undefined;
let mqttApp: AppProcess;
let dash: AppProcess;
let beats: NodeJS.Timeout;
let fake: FakeBeats;
let base: string;
let env: ReturnType<typeof testEnv>;

async function startBroker(): Promise<void> {
  broker = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  await waitFor(() => new Promise<boolean>((resolve) => {
    const s = connect(brokerPort, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  }), 10_000, 'mosquitto up');
}

async function stopBroker(): Promise<void> {
  const b = broker;
  broker = undefined;
  if (!b || b.exitCode !== null) return;
  await new Promise((resolve) => {
    b.on('exit', resolve);
    b.kill('SIGTERM');
  });
}

const health = async () => {
  const r = await fetch(`${base}/health`);
  return { status: r.status, body: (await r.json()) as { reasons: string[]; broker: string } };
};

test.before(async () => {
  brokerPort = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  await startBroker();
  const dashPort = await freePort();
  base = `http://127.0.0.1:${dashPort}`;
  env = testEnv({ COINEREX_MQTT_URL: `mqtt://127.0.0.1:${brokerPort}`, COINEREX_MQTT_KEEPALIVE: '2', COINEREX_MQTT_RECONNECT_MAX_MS: '500', COINEREX_DASHBOARD_PORT: String(dashPort), COINEREX_WATCHDOG_SECONDS: '5' });
  const others = ['hardware', 'business', 'supervisor'];
  fake = fakeBeats(REDIS_URL, env.keys);
  const beat = () => fake.beat(others);
  await beat();
  beats = setInterval(() => void beat(), 1_000);
  mqttApp = spawnApp('workers/mqtt', env.env);
  dash = spawnApp('dashboard', env.env);
});

test.after.always(async () => {
  clearInterval(beats);
  fake?.close();
  await Promise.all([mqttApp?.stop(), dash?.stop()]);
  await stopBroker();
  await cleanupRedis(env.prefix);
  rmSync(dir, { recursive: true, force: true });
});

test('200 with the broker up, 503 naming the broker when it stops, 200 once it is back', async (t) => {
  const up = await waitFor(async () => {
    const h = await health().catch(() => null);
    return h?.status === 200 ? h : null;
  }, 20_000, '/health 200 with the broker up');
  t.is(up.body.broker, 'connected');

  await stopBroker();
  const down = await waitFor(async () => {
    const h = await health();
    return h.status === 503 ? h : null;
  }, 15_000, '/health 503 after the broker stopped');
  t.is(down.body.broker, 'disconnected');
  t.is(down.body.reasons.length, 1);
  t.regex(down.body.reasons[0]!, /^broker disconnected since \d{4}-\d\d-\d\dT/);

  await startBroker();
  const back = await waitFor(async () => {
    const h = await health();
    return h.status === 200 ? h : null;
  }, 20_000, '/health 200 after the broker is back');
  t.deepEqual(back.body.reasons, []);
});
