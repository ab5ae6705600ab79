import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig, ConfigError, defaults, envName } from '../../shared/config.js';

const fail = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`configuration ${JSON.stringify(env)} was accepted`);
};

test('defaults load and are frozen', (t) => {
  const c = loadConfig({});
  t.is(c.deviceId, 'CCM_001');
  t.deepEqual(c.retrySchedule, [10, 30, 60, 60]);
  t.is(c.offlineLimit, 100);
  t.is(c.heartbeatSeconds, 300);
  t.is(c.timezone, 'Asia/Taipei');
  t.is(c.dashboardHost, '127.0.0.1');
  t.true(Object.isFrozen(c));
});

test("the guide's three retry values mean three resends, the final wait repeating the last gap; four keep their meaning", (t) => {
  t.deepEqual(loadConfig({ COINEREX_RETRY_SCHEDULE: '10,30,60' }).retrySchedule, [10, 30, 60, 60]);
  t.deepEqual(loadConfig({ COINEREX_RETRY_SCHEDULE: '10, 30, 60' }).retrySchedule, [10, 30, 60, 60]);
  t.deepEqual(loadConfig({ COINEREX_RETRY_SCHEDULE: '10,30,60,90' }).retrySchedule, [10, 30, 60, 90]);
  t.deepEqual(loadConfig({ COINEREX_RETRY_SCHEDULE: '5,5' }).retrySchedule, [5, 5]);
});

test('interop defaults: no seq extension unless COINEREX_SEQ=1; firmware version configurable', (t) => {
  const c = loadConfig({});
  t.false(c.seqField);
  t.is(c.firmwareVersion, undefined);
  t.true(loadConfig({ COINEREX_SEQ: '1' }).seqField);
  t.is(loadConfig({ COINEREX_FIRMWARE_VERSION: '1.3.2' }).firmwareVersion, '1.3.2');
});

test('environment overrides the file, the file overrides defaults', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ deviceId: 'FILE_1', offlineLimit: 7, heartbeatSeconds: 9 }));
  const c = loadConfig({ COINEREX_CONFIG: file, COINEREX_OFFLINE_LIMIT: '8', COINEREX_RETRY_SCHEDULE: '1,3,6,6', COINEREX_BONUS_TABLE: '{"1000":5}' });
  t.is(c.deviceId, 'FILE_1');
  t.is(c.offlineLimit, 8);
  t.is(c.heartbeatSeconds, 9);
  t.deepEqual(c.retrySchedule, [1, 3, 6, 6]);
  t.deepEqual(c.bonusTable, { '1000': 5 });
});

// Every variable docs/architecture.md#interfaces-the-outside-relies-on names, with a bad value: the message must name the variable.
const bad: Record<string, string> = {
  COINEREX_DEVICE_ID: 'bad/id',
  COINEREX_MQTT_URL: 'http://broker',
  COINEREX_MQTT_USERNAME: 'x'.repeat(300),
  COINEREX_MQTT_PASSWORD: 'x'.repeat(300),
  COINEREX_REDIS_URL: 'localhost:6379',
  COINEREX_TOPIC_PREFIX: 'a/b',
  COINEREX_HARDWARE: 'usb',
  COINEREX_SERIAL_PATH: '',
  COINEREX_RETRY_SCHEDULE: '10,abc,60',
  COINEREX_OFFLINE_LIMIT: '-1',
  COINEREX_HEARTBEAT_SECONDS: '0',
  COINEREX_STATUS_SECONDS: 'soon',
  COINEREX_COMMAND_PUBLIC_KEY: '',
  COINEREX_TIMEZONE: 'Mars/Olympus',
  COINEREX_DASHBOARD_HOST: '',
  COINEREX_DASHBOARD_PORT: '70000',
  COINEREX_DASHBOARD_USER: '',
  COINEREX_DASHBOARD_PASSWORD: '',
  COINEREX_SIM_CUSTOMERS_PER_MINUTE: '-5',
  COINEREX_ALLOW_UNSIGNED_COMMANDS: 'maybe',
};

for (const [name, value] of Object.entries(bad)) {
  test(`bad ${name} fails fast naming the variable`, (t) => {
    const env: Record<string, string> = { [name]: value };
    // Empty strings of optional strings are only rejected when the field is required to be non-empty.
    if (name === 'COINEREX_MQTT_PASSWORD') env.COINEREX_MQTT_USERNAME = 'u';
    if (name === 'COINEREX_SERIAL_PATH') env.COINEREX_HARDWARE = 'serial';
    const msg = fail(env);
    t.regex(msg, new RegExp(name), msg);
    t.regex(msg, /expected|required/, msg);
  });
}

test('every variable name maps to a schema field', (t) => {
  for (const name of Object.keys(bad)) t.true(Object.keys(defaults).concat(['mqttUsername', 'mqttPassword', 'commandPublicKey', 'dashboardUser', 'dashboardPassword']).some((f) => envName(f) === name), name);
});

test('several bad values are all reported', (t) => {
  const msg = fail({ COINEREX_OFFLINE_LIMIT: 'x', COINEREX_HEARTBEAT_SECONDS: 'y' });
  t.regex(msg, /COINEREX_OFFLINE_LIMIT/);
  t.regex(msg, /COINEREX_HEARTBEAT_SECONDS/);
});

test('a bad value in the config file names the file key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ offlineLimit: 'many' }));
  t.regex(fail({ COINEREX_CONFIG: file }), /"offlineLimit" in .*c\.json: expected/);
  writeFileSync(file, JSON.stringify({ offlineLimt: 5 }));
  t.regex(fail({ COINEREX_CONFIG: file }), /unknown setting\(s\) offlineLimt/);
  writeFileSync(file, '{ not json');
  t.regex(fail({ COINEREX_CONFIG: file }), /COINEREX_CONFIG .*cannot read/);
  t.regex(fail({ COINEREX_CONFIG: join(dir, 'missing.json') }), /COINEREX_CONFIG/);
});

test('production without a command key refuses unless unsigned commands are allowed', (t) => {
  t.regex(fail({ COINEREX_MODE: 'production' }), /COINEREX_COMMAND_PUBLIC_KEY/);
  t.is(loadConfig({ COINEREX_MODE: 'production', COINEREX_ALLOW_UNSIGNED_COMMANDS: '1' }).allowUnsignedCommands, true);
});

test('an app with a bad value exits non-zero with the variable in the message', (t) => {
  const script = `import('${new URL('../../shared/app-runner.js', import.meta.url).href}').then(m => m.runApp('probe', async () => ({ close: async () => {} })))`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, COINEREX_OFFLINE_LIMIT: 'lots' }, encoding: 'utf8', timeout: 20_000 });
  t.not(r.status, 0);
  t.regex(r.stderr, /COINEREX_OFFLINE_LIMIT: expected/);
});
