/**
 * `coinerex doctor` against a healthy setup (a private Redis with AOF and
 * noeviction, the local broker, a key file only its owner reads) and
 * against each failure it claims to catch. Real Redis, broker and files;
 * the clock, NTP, disk, serial permission and systemd are injected where this
 * machine cannot be arranged.
 */
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { doctor } from '../../cli/commands/doctor.js';
import { realProbes, type DoctorProbes } from '../../cli/doctor/probes.js';
import type { CheckResult } from '../../cli/doctor/checks.js';
import { freePort } from '../helpers/app-process.js';
import { testEnv, waitFor, MQTT_URL } from '../helpers/env.js';
import { ROOT } from '../helpers/pm2.js';

const dir = mkdtempSync(join(tmpdir(), 'coinerex-doctor-'));
const keyFile = join(dir, 'command.pub.pem');
let redisServer: ChildProcess;
let redisUrl: string;
let admin: Redis;

/** What a board set up per docs/deploy.md looks like to the probes this machine cannot provide. */
const healthyProbes: DoctorProbes = {
  ...realProbes,
  ntpSynchronized: async () => true,
  pm2Units: async () => ({ units: ['/etc/systemd/system/pm2-coinerex.service'], dropIns: ['/etc/systemd/system/pm2-coinerex.service.d/coinerex.conf'] }),
  pm2HostMetrics: async () => false,
};

const baseEnv = () => ({ ...testEnv().env, COINEREX_MODE: 'production', COINEREX_REDIS_URL: redisUrl, COINEREX_COMMAND_PUBLIC_KEY: keyFile, COINEREX_MQTT_URL: MQTT_URL });

async function check(envOverrides: Record<string, string> = {}, probes: Partial<DoctorProbes> = {}) {
  let printed = '';
  const code = await doctor(['--json'], { ...baseEnv(), ...envOverrides }, { ...healthyProbes, ...probes }, (s) => (printed += s));
  const results = JSON.parse(printed) as CheckResult[];
  return { code, results, get: (name: string) => results.find((r) => r.name === name) };
}

test.before(async () => {
  const port = await freePort();
  redisUrl = `redis://127.0.0.1:${port}`;
  redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction', '--save', ''], { stdio: 'ignore' });
  admin = new Redis(redisUrl, { protocol: 2, lazyConnect: true, retryStrategy: () => 100 });
  admin.on('error', () => undefined);
  await waitFor(() => admin.connect().then(() => true, () => false), 10_000, 'private redis');
  const { publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o640 });
});

test.after.always(() => {
  admin?.disconnect();
  redisServer?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a healthy board passes every check (exit 0); plain MQTT in production is only a warning', async (t) => {
  const { code, results } = await check();
  t.is(code, 0, JSON.stringify(results, null, 1));
  const byOutcome = (o: string) => results.filter((r) => r.outcome === o).map((r) => r.name);
  t.deepEqual(byOutcome('fail'), []);
  t.deepEqual(byOutcome('warn'), ['MQTT over TLS']);
  t.deepEqual(byOutcome('skip'), ['Serial device', 'ccTalk devices']);
  for (const name of ['Redis reachable', 'Redis persistence (AOF)', 'Redis eviction policy', 'MQTT broker reachable', 'File: command public key', 'Clock plausible', 'Clock synchronised (NTP)', 'Disk space', 'PM2 starts at boot', 'PM2 waits for Redis and the clock']) {
    t.true(byOutcome('pass').includes(name), name);
  }
});

test.serial('Redis without persistence fails with the fix', async (t) => {
  await admin.config('SET', 'appendonly', 'no');
  try {
    const { code, get } = await check();
    t.is(code, 1);
    t.like(get('Redis persistence (AOF)'), { outcome: 'fail', detail: 'appendonly is "no": a power cut loses counters and the journal' });
    t.regex(get('Redis persistence (AOF)')!.fix!, /deploy\/redis\.conf/);
  } finally {
    await admin.config('SET', 'appendonly', 'yes');
  }
});

test.serial('appendfsync everysec fails with the fix (acknowledged credits lost on a power cut)', async (t) => {
  await admin.config('SET', 'appendfsync', 'everysec');
  try {
    const { code, get } = await check();
    t.is(code, 1);
    t.like(get('Redis persistence (AOF)'), { outcome: 'fail' });
    t.regex(get('Redis persistence (AOF)')!.detail, /appendfsync is "everysec"/);
    t.regex(get('Redis persistence (AOF)')!.fix!, /appendfsync always.*deploy\/redis\.conf/);
  } finally {
    await admin.config('SET', 'appendfsync', 'always');
  }
});

test.serial('an evicting Redis fails', async (t) => {
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
  try {
    const { code, get } = await check();
    t.is(code, 1);
    t.like(get('Redis eviction policy'), { outcome: 'fail' });
    t.regex(get('Redis eviction policy')!.detail, /allkeys-lru/);
  } finally {
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
  }
});

test('unreachable Redis fails and the checks that need it are skipped', async (t) => {
  const { code, get } = await check({ COINEREX_REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  t.is(code, 1);
  t.like(get('Redis reachable'), { outcome: 'fail' });
  t.regex(get('Redis reachable')!.fix!, /systemctl enable --now redis-server/);
  t.like(get('Redis persistence (AOF)'), { outcome: 'skip' });
});

test('an unreachable broker fails', async (t) => {
  const url = `mqtt://127.0.0.1:${await freePort()}`;
  const { code, get } = await check({ COINEREX_MQTT_URL: url });
  t.is(code, 1);
  t.like(get('MQTT broker reachable'), { outcome: 'fail' });
  t.regex(get('MQTT broker reachable')!.detail, /ECONNREFUSED/);
});

test('bad broker credentials fail', async (t) => {
  const { get } = await check({}, { broker: async () => Promise.reject(new Error('Connection refused: Not authorized')) });
  t.like(get('MQTT broker reachable'), { outcome: 'fail', detail: `${MQTT_URL}: Connection refused: Not authorized` });
});

test.serial('a world-readable or missing key file fails', async (t) => {
  chmodSync(keyFile, 0o644);
  try {
    const { code, get } = await check();
    t.is(code, 1);
    t.like(get('File: command public key'), { outcome: 'fail', detail: `${keyFile} is world-readable (mode 644)` });
    t.regex(get('File: command public key')!.fix!, /chmod 640/);
  } finally {
    chmodSync(keyFile, 0o640);
  }
  const missing = await check({ COINEREX_COMMAND_PUBLIC_KEY: join(dir, 'nope.pem') });
  t.like(missing.get('File: command public key'), { outcome: 'fail' });
  t.is(missing.code, 1);
});

test('a config file holding passwords must not be world-readable', async (t) => {
  const file = join(dir, 'coinerex.json');
  writeFileSync(file, JSON.stringify({ mqttUsername: 'board', mqttPassword: 'secret' }), { mode: 0o644 });
  chmodSync(file, 0o644);
  const { get } = await check({ COINEREX_CONFIG: file });
  t.like(get('File: config file'), { outcome: 'fail' });
});

test('an implausible clock and an unsynchronised one fail', async (t) => {
  const { code, get } = await check({}, { now: () => Date.parse('2001-01-01T00:00:00Z'), ntpSynchronized: async () => false });
  t.is(code, 1);
  t.like(get('Clock plausible'), { outcome: 'fail' });
  t.like(get('Clock synchronised (NTP)'), { outcome: 'fail', detail: 'NTPSynchronized=no' });
});

test('a nearly full disk fails', async (t) => {
  const { code, get } = await check({}, { disk: async () => ({ freeBytes: 100 * 1024 * 1024, totalBytes: 8 * 1024 ** 3 }) });
  t.is(code, 1);
  t.like(get('Disk space'), { outcome: 'fail' });
  t.regex(get('Disk space')!.detail, new RegExp(`^100 MB free of 8192 MB at ${dir}$`), 'checks the disk Redis writes to');
});

test('a missing or forbidden serial device fails when the hardware is serial', async (t) => {
  const serial = { COINEREX_HARDWARE: 'serial', COINEREX_SERIAL_PATH: join(dir, 'ttyNOPE') };
  const missing = await check(serial);
  t.like(missing.get('Serial device'), { outcome: 'fail', detail: `${join(dir, 'ttyNOPE')} does not exist` });
  const denied = await check(serial, { serial: async () => 'denied' });
  t.like(denied.get('Serial device'), { outcome: 'fail' });
  t.regex(denied.get('Serial device')!.fix!, /usermod -aG dialout/);
});

test('PM2 not set up to start at boot fails; without the ordering drop-in it warns', async (t) => {
  const none = await check({}, { pm2Units: async () => ({ units: [], dropIns: [] }) });
  t.is(none.code, 1);
  t.like(none.get('PM2 starts at boot'), { outcome: 'fail' });
  t.regex(none.get('PM2 starts at boot')!.fix!, /pm2 startup systemd/);
  const noDropIn = await check({}, { pm2Units: async () => ({ units: ['/etc/systemd/system/pm2-coinerex.service'], dropIns: [] }) });
  t.is(noDropIn.code, 0);
  t.like(noDropIn.get('PM2 waits for Redis and the clock'), { outcome: 'warn' });
});

test("PM2's host metrics left on warn, with the setting that turns them off", async (t) => {
  const on = await check({}, { pm2HostMetrics: async () => true });
  t.is(on.code, 0);
  t.like(on.get('PM2 host metrics off'), { outcome: 'warn' });
  t.regex(on.get('PM2 host metrics off')!.fix!, /pm2 set pm2:sysmonit false/);
  t.like((await check({})).get('PM2 host metrics off'), { outcome: 'pass' });
});

test('the real probe reads what `pm2 set pm2:sysmonit false` writes; PM2 without it has them on', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'coinerex-pm2home-'));
  try {
    t.true(await realProbes.pm2HostMetrics(home), 'no module_conf.json: PM2 default');
    writeFileSync(join(home, 'module_conf.json'), JSON.stringify({ 'pm2-logrotate': { max_size: '5M' }, pm2: { sysmonit: 'false' } }));
    t.false(await realProbes.pm2HostMetrics(home));
    writeFileSync(join(home, 'module_conf.json'), JSON.stringify({ pm2: { sysmonit: 'true' } }));
    t.true(await realProbes.pm2HostMetrics(home));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('the CLI prints each check with its fix and exits 1 on a failure', async (t) => {
  const env = { ...process.env, ...baseEnv(), COINEREX_MQTT_URL: `mqtt://127.0.0.1:${await freePort()}` };
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(join(ROOT, 'bin', 'coinerex'), ['doctor'], { env }, (err, out) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout: out })),
  );
  t.is(code, 1);
  t.regex(stdout, /^ {2}PASS {2}Redis reachable/m);
  t.regex(stdout, /^ {2}FAIL {2}MQTT broker reachable .*ECONNREFUSED/m);
  t.regex(stdout, /^ +fix: check COINEREX_MQTT_URL/m);
});

test('with ccTalk, each configured device is listed: what answered, or what to check', async (t) => {
  const { code, get } = await check(
    { COINEREX_HARDWARE: 'cctalk', COINEREX_CCTALK_PATH: '/dev/ttyUSB9' },
    {
      serial: async () => 'ok',
      cctalk: async () => [
        { role: 'coin', address: 2, answered: true, category: 'Coin Acceptor', product: 'CRX-COIN', serial: 658188 },
        { role: 'hopper', address: 3, answered: false },
      ],
    },
  );
  t.is(code, 1);
  t.like(get('ccTalk bus'), { outcome: 'pass' });
  t.like(get('ccTalk coin@2'), { outcome: 'pass', detail: 'category "Coin Acceptor", product code CRX-COIN, serial number 658188' });
  t.like(get('ccTalk hopper@3'), { outcome: 'fail', detail: 'no answer' });
  t.regex(get('ccTalk hopper@3')!.fix!, /COINEREX_CCTALK_HOPPER_ADDRESS/);
});
