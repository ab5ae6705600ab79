/**
 * The shipped deployment files say what docs/deploy.md promises: the example
 * configuration is a valid production configuration, and the systemd drop-in
 * orders PM2 after Redis and the clock and starts exactly the agent's apps.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config.js';
import { agentApps } from '../../shared/app-health.js';
import { ROOT } from '../helpers/pm2.js';

const deploy = (f: string) => join(ROOT, 'deploy', f);

test('the example configuration loads as production, signed commands, serial hardware, dashboard on loopback', (t) => {
  const c = loadConfig({ COINEREX_CONFIG: deploy('coinerex.example.json') });
  t.is(c.mode, 'production');
  t.truthy(c.commandPublicKey);
  t.false(c.allowUnsignedCommands);
  t.false(c.allowHardRestart);
  t.is(c.hardware, 'serial');
  t.regex(c.mqttUrl, /^mqtts:\/\//);
  t.is(c.dashboardHost, '127.0.0.1');
});

test('the PM2 drop-in waits for Redis and time sync and falls back to the agent apps', (t) => {
  const unit = readFileSync(deploy('pm2-coinerex.conf'), 'utf8');
  t.regex(unit, /^After=.*\bredis-server\.service\b.*\btime-sync\.target\b/m);
  t.regex(unit, /^Wants=.*\bredis-server\.service\b/m);
  t.regex(unit, /^Environment=COINEREX_CONFIG=\/etc\/coinerex\/coinerex\.json$/m);
  const only = /--env production --only ([\w,-]+)/.exec(unit)?.[1];
  t.deepEqual(only?.split(','), [...agentApps]);
});

test('docs/deploy.md starts the same apps and references the shipped files', (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
  t.true(doc.includes(`--env production --only ${agentApps.join(',')}`));
  for (const f of ['deploy/redis.conf', 'deploy/coinerex.example.json', 'deploy/pm2-coinerex.conf', 'deploy/50-coinerex-reboot.rules']) t.true(doc.includes(f), f);
});
