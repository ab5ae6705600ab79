/**
 * PM2 merges an app's `env` under `env_<profile>`: the production profile
 * must carry none of the demo defaults, so the operator's configuration
 * (COINEREX_CONFIG, the environment) is all production sees. Checked on what
 * PM2 itself reports (`pm2 jlist`) under an isolated PM2_HOME.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupRedis, testEnv } from '../helpers/env.js';
import { startStack, type Pm2Stack } from '../helpers/pm2.js';

type JlistEntry = { name: string; pm2_env: Record<string, unknown> & { env?: Record<string, string> } };

async function appEnv(stack: Pm2Stack, app: string): Promise<Record<string, unknown>> {
  const entry = (JSON.parse(await stack.pm2('jlist')) as JlistEntry[]).find((p) => p.name === app);
  if (!entry) throw new Error(`${app} not in pm2 jlist`);
  // PM2 lists the variables both at the top of pm2_env and under pm2_env.env.
  return { ...entry.pm2_env, ...entry.pm2_env.env };
}

test('production sees only what the operator configured: no demo heartbeat, customers or pretty logs', async (t) => {
  t.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), 'coinerex-profile-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ heartbeatSeconds: 120, allowUnsignedCommands: true }));
  const env = testEnv();
  const { COINEREX_SIM_CUSTOMERS_PER_MINUTE: _c, COINEREX_MODE: _m, COINEREX_LOG_PRETTY: _p, ...operator } = env.env;
  const stack = await startStack(['mqtt'], { ...operator, COINEREX_CONFIG: configFile }, 'production');
  try {
    const e = await appEnv(stack, 'mqtt');
    t.is(e.COINEREX_MODE, 'production');
    t.is(e.COINEREX_CONFIG, configFile);
    t.false('COINEREX_HEARTBEAT_SECONDS' in e, 'the demo heartbeat overrides the config file');
    t.false('COINEREX_SIM_CUSTOMERS_PER_MINUTE' in e, 'the demo customers reach production');
    t.is(e.COINEREX_LOG_PRETTY, '0');
  } finally {
    await stack.destroy();
    await cleanupRedis(env.prefix);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the demo profile still fills in its defaults where the caller set none', async (t) => {
  t.timeout(90_000);
  const env = testEnv();
  const { COINEREX_SIM_CUSTOMERS_PER_MINUTE: _c, COINEREX_MODE: _m, ...caller } = env.env;
  const stack = await startStack(['mqtt'], caller, 'demo');
  try {
    const e = await appEnv(stack, 'mqtt');
    t.is(e.COINEREX_MODE, 'demo');
    t.is(e.COINEREX_HEARTBEAT_SECONDS, '30');
    t.is(e.COINEREX_SIM_CUSTOMERS_PER_MINUTE, '6');
  } finally {
    await stack.destroy();
    await cleanupRedis(env.prefix);
  }
});
