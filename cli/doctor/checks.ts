/**
 * The checks `coinerex doctor` runs before a board goes live. Each says what
 * it found and, when it fails, the fix.
 */
import type { Config } from '../../shared/config.js';
import type { DoctorProbes, RedisFacts } from './probes.js';

export type Outcome = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  name: string;
  outcome: Outcome;
  detail: string;
  fix?: string;
}

export interface DoctorInput {
  config: Config;
  /** The config file (COINEREX_CONFIG), which may hold passwords. */
  configFile?: string;
  /** Where the agent lives; its disk is checked when Redis does not say where it writes. */
  root: string;
  /** The user the agent runs as and its home, for the fixes. */
  user: string;
  home: string;
  /** PM2_HOME when set; `<home>/.pm2` otherwise. */
  pm2Home?: string | undefined;
}

/** Below this much free space the AOF rewrite (up to twice the data) and logs can fill the card. */
export const MIN_FREE_BYTES = 256 * 1024 * 1024;
export const MIN_FREE_RATIO = 0.05;
const EARLIEST_YEAR = 2025;

const redisConfFix = 'install the shipped deploy/redis.conf (see docs/deploy.md) and `sudo systemctl restart redis-server`';

function redisChecks(facts: RedisFacts | Error, url: string): CheckResult[] {
  if (facts instanceof Error) {
    return [
      { name: 'Redis reachable', outcome: 'fail', detail: `${url}: ${facts.message}`, fix: 'start it: `sudo systemctl enable --now redis-server`; check COINEREX_REDIS_URL' },
      { name: 'Redis persistence (AOF)', outcome: 'skip', detail: 'Redis unreachable' },
      { name: 'Redis eviction policy', outcome: 'skip', detail: 'Redis unreachable' },
    ];
  }
  const out: CheckResult[] = [{ name: 'Redis reachable', outcome: 'pass', detail: `${url} (Redis ${facts.version})` }];
  if (facts.appendonly === null) out.push({ name: 'Redis persistence (AOF)', outcome: 'warn', detail: 'CONFIG is disabled; cannot tell', fix: 'make sure redis.conf has `appendonly yes`' });
  else if (facts.appendonly !== 'yes') {
    out.push({ name: 'Redis persistence (AOF)', outcome: 'fail', detail: `appendonly is "${facts.appendonly}": a power cut loses counters and the journal`, fix: redisConfFix });
  } else if (facts.appendfsync !== null && facts.appendfsync !== 'always') {
    // everysec acknowledges a write up to ~2 s before it is on the card: a power cut loses credits already confirmed (docs/durability.md).
    const why = facts.appendfsync === 'no' ? 'the kernel decides when money records reach the card' : 'a power cut loses up to 2 s of acknowledged credits and payouts';
    out.push({ name: 'Redis persistence (AOF)', outcome: 'fail', detail: `appendfsync is "${facts.appendfsync}": ${why}`, fix: `set \`appendfsync always\`: ${redisConfFix}` });
  } else out.push({ name: 'Redis persistence (AOF)', outcome: 'pass', detail: `appendonly yes, appendfsync ${facts.appendfsync ?? '?'}` });
  if (facts.maxmemoryPolicy === null) out.push({ name: 'Redis eviction policy', outcome: 'warn', detail: 'CONFIG is disabled; cannot tell', fix: 'make sure redis.conf has `maxmemory-policy noeviction`' });
  else if (facts.maxmemoryPolicy !== 'noeviction') {
    out.push({ name: 'Redis eviction policy', outcome: 'fail', detail: `maxmemory-policy is "${facts.maxmemoryPolicy}": Redis may delete queue jobs and records when full`, fix: redisConfFix });
  } else out.push({ name: 'Redis eviction policy', outcome: 'pass', detail: 'noeviction' });
  return out;
}

async function brokerCheck(input: DoctorInput, probes: DoctorProbes): Promise<CheckResult[]> {
  const c = input.config;
  const how = `${c.mqttUrl}${c.mqttUsername ? ` as ${c.mqttUsername}` : ''}${c.mqttCa ? ' with CA' : ''}`;
  const out: CheckResult[] = [];
  try {
    await probes.broker(c);
    out.push({ name: 'MQTT broker reachable', outcome: 'pass', detail: how });
  } catch (err) {
    out.push({
      name: 'MQTT broker reachable',
      outcome: 'fail',
      detail: `${how}: ${(err as Error).message}`,
      fix: 'check COINEREX_MQTT_URL, COINEREX_MQTT_USERNAME/PASSWORD and COINEREX_MQTT_CA, and that the network lets the port out',
    });
  }
  if (c.mode === 'production' && c.mqttUrl.startsWith('mqtt://')) {
    out.push({ name: 'MQTT over TLS', outcome: 'warn', detail: 'plain mqtt:// in production: credentials and commands travel in clear', fix: 'use mqtts:// with COINEREX_MQTT_CA' });
  }
  return out;
}

async function fileChecks(input: DoctorInput, probes: DoctorProbes): Promise<CheckResult[]> {
  const files: Array<[string, string | undefined]> = [
    ['command public key', input.config.commandPublicKey],
    ['broker CA certificate', input.config.mqttCa],
    ['config file', input.configFile],
  ];
  const out: CheckResult[] = [];
  for (const [what, path] of files) {
    if (!path) continue;
    const name = `File: ${what}`;
    const f = await probes.file(path);
    if (!f.exists) out.push({ name, outcome: 'fail', detail: `${path} does not exist`, fix: 'provision it (docs/deploy.md, "Keys")' });
    else if (!f.readable) out.push({ name, outcome: 'fail', detail: `${path} is not readable by ${input.user}`, fix: `sudo chown root:${input.user} ${path} && sudo chmod 640 ${path}` });
    else if (f.mode & 0o002) out.push({ name, outcome: 'fail', detail: `${path} is world-writable (mode ${f.mode.toString(8)}): anyone on the board can replace it`, fix: `sudo chmod 640 ${path}` });
    else if (f.mode & 0o004) out.push({ name, outcome: 'fail', detail: `${path} is world-readable (mode ${f.mode.toString(8)})`, fix: `sudo chown root:${input.user} ${path} && sudo chmod 640 ${path}` });
    else out.push({ name, outcome: 'pass', detail: `${path} (mode ${f.mode.toString(8)})` });
  }
  if (input.config.mode === 'production' && !input.config.commandPublicKey) {
    out.push({ name: 'Command authentication', outcome: 'warn', detail: 'no command public key: unsigned commands are accepted', fix: 'coinerex keygen; set COINEREX_COMMAND_PUBLIC_KEY' });
  }
  return out;
}

async function clockChecks(probes: DoctorProbes): Promise<CheckResult[]> {
  const now = probes.now();
  const year = new Date(now).getUTCFullYear();
  const out: CheckResult[] = [
    year >= EARLIEST_YEAR
      ? { name: 'Clock plausible', outcome: 'pass', detail: new Date(now).toISOString() }
      : { name: 'Clock plausible', outcome: 'fail', detail: `the clock says ${new Date(now).toISOString()}: transaction ids, timestamps and retries would be wrong`, fix: 'enable time sync: `sudo timedatectl set-ntp true` (and check the network reaches an NTP server)' },
  ];
  const synced = await probes.ntpSynchronized();
  if (synced === null) out.push({ name: 'Clock synchronised (NTP)', outcome: 'skip', detail: 'timedatectl not available' });
  else if (synced) out.push({ name: 'Clock synchronised (NTP)', outcome: 'pass', detail: 'NTPSynchronized=yes' });
  else out.push({ name: 'Clock synchronised (NTP)', outcome: 'fail', detail: 'NTPSynchronized=no', fix: '`sudo timedatectl set-ntp true`; `timedatectl timesync-status` shows the server' });
  return out;
}

async function diskCheck(path: string, probes: DoctorProbes): Promise<CheckResult> {
  const name = 'Disk space';
  try {
    const { freeBytes, totalBytes } = await probes.disk(path);
    const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;
    const detail = `${mb(freeBytes)} free of ${mb(totalBytes)} at ${path}`;
    if (freeBytes < MIN_FREE_BYTES || freeBytes < totalBytes * MIN_FREE_RATIO) {
      return { name, outcome: 'fail', detail, fix: 'free space: `pm2 flush`, check pm2-logrotate is installed, remove old files; Redis needs room to rewrite its AOF' };
    }
    return { name, outcome: 'pass', detail };
  } catch (err) {
    return { name, outcome: 'fail', detail: `${path}: ${(err as Error).message}` };
  }
}

async function serialCheck(input: DoctorInput, probes: DoctorProbes): Promise<CheckResult> {
  const name = 'Serial device';
  const c = input.config;
  if (c.hardware !== 'serial') return { name, outcome: 'skip', detail: `COINEREX_HARDWARE=${c.hardware}` };
  const access = await probes.serial(c.serialPath);
  if (access === 'ok') return { name, outcome: 'pass', detail: `${c.serialPath} readable and writable` };
  if (access === 'missing') return { name, outcome: 'fail', detail: `${c.serialPath} does not exist`, fix: 'check the cable; use the stable /dev/serial/by-id/… path in COINEREX_SERIAL_PATH' };
  return { name, outcome: 'fail', detail: `${c.serialPath}: permission denied for ${input.user}`, fix: `sudo usermod -aG dialout ${input.user}, then log in again and \`pm2 kill && pm2 resurrect\`` };
}

/** One line per configured ccTalk device: what answered at its address, or what to check. */
async function cctalkCheck(input: DoctorInput, probes: DoctorProbes): Promise<CheckResult[]> {
  const c = input.config;
  if (c.hardware !== 'cctalk') return [{ name: 'ccTalk devices', outcome: 'skip', detail: `COINEREX_HARDWARE=${c.hardware}` }];
  const access = await probes.serial(c.cctalkPath);
  if (access !== 'ok') {
    const detail = access === 'missing' ? `${c.cctalkPath} does not exist` : `${c.cctalkPath}: permission denied for ${input.user}`;
    const fix = access === 'missing' ? 'check the USB–ccTalk adapter; use the stable /dev/serial/by-id/… path in COINEREX_CCTALK_PATH' : `sudo usermod -aG dialout ${input.user}, then log in again`;
    return [{ name: 'ccTalk bus', outcome: 'fail', detail, fix }];
  }
  let found;
  try {
    found = await probes.cctalk(c);
  } catch (err) {
    return [{ name: 'ccTalk bus', outcome: 'fail', detail: (err as Error).message, fix: 'stop the hardware app (`pm2 stop hardware`) so the port is free, then run doctor again' }];
  }
  const out: CheckResult[] = [{ name: 'ccTalk bus', outcome: 'pass', detail: `${c.cctalkPath} at ${c.cctalkBaud} baud; hopper pays ${c.cctalkHopperCoinValue} NTD coins` }];
  for (const d of found) {
    const name = `ccTalk ${d.role}@${d.address}`;
    if (!d.answered) {
      out.push({ name, outcome: 'fail', detail: 'no answer', fix: `check the device's address (COINEREX_CCTALK_${d.role.toUpperCase()}_ADDRESS), its checksum kind (COINEREX_CCTALK_${d.role.toUpperCase()}_CHECKSUM), its power and the data line` });
      continue;
    }
    const detail = `category "${d.category ?? '?'}", product code ${d.product ?? '?'}, serial number ${d.serial ?? '?'}${d.manufacturer ? `, manufacturer ${d.manufacturer}` : ''}`;
    const expected = { coin: 'Coin Acceptor', bill: 'Bill Validator', hopper: 'Payout' }[d.role];
    const wrong = d.category !== undefined && !d.category.toLowerCase().startsWith(expected.toLowerCase());
    out.push(wrong ? { name, outcome: 'warn', detail, fix: `a "${expected}" was expected at this address` } : { name, outcome: 'pass', detail });
  }
  return out;
}

async function pm2Check(input: DoctorInput, probes: DoctorProbes): Promise<CheckResult[]> {
  const { units, dropIns } = await probes.pm2Units();
  if (units.length === 0) {
    return [{ name: 'PM2 starts at boot', outcome: 'fail', detail: 'no pm2-*.service systemd unit', fix: `\`pm2 startup systemd -u ${input.user} --hp ${input.home}\`, run the printed command, then \`pm2 save\`` }];
  }
  const out: CheckResult[] = [{ name: 'PM2 starts at boot', outcome: 'pass', detail: units.join(', ') }];
  if (dropIns.length === 0) {
    out.push({ name: 'PM2 waits for Redis and the clock', outcome: 'warn', detail: 'no drop-in ordering PM2 after redis-server and time-sync', fix: 'install deploy/pm2-coinerex.conf as a drop-in (docs/deploy.md)' });
  } else out.push({ name: 'PM2 waits for Redis and the clock', outcome: 'pass', detail: dropIns.join(', ') });
  const pm2Home = input.pm2Home ?? `${input.home}/.pm2`;
  if (await probes.pm2HostMetrics(pm2Home)) {
    out.push({ name: 'PM2 host metrics off', outcome: 'warn', detail: `${pm2Home}: PM2 sweeps /proc and /sys every 30 s for metrics the agent does not use`, fix: '`pm2 set pm2:sysmonit false && pm2 update` (docs/deploy.md)' });
  } else out.push({ name: 'PM2 host metrics off', outcome: 'pass', detail: pm2Home });
  return out;
}

/** Every check, in the order an engineer fixes things. */
export async function runDoctor(input: DoctorInput, probes: DoctorProbes): Promise<CheckResult[]> {
  const facts = await probes.redis(input.config.redisUrl).catch((err: Error) => err);
  const results = [...redisChecks(facts, input.config.redisUrl)];
  results.push(...(await brokerCheck(input, probes)));
  results.push(...(await fileChecks(input, probes)));
  results.push(...(await clockChecks(probes)));
  results.push(await diskCheck(facts instanceof Error || !facts.dir ? input.root : facts.dir, probes));
  results.push(await serialCheck(input, probes));
  results.push(...(await cctalkCheck(input, probes)));
  results.push(...(await pm2Check(input, probes)));
  return results;
}
