/**
 * What `coinerex doctor` looks at on the machine, behind one interface so
 * tests can replace what they cannot arrange (the clock, NTP, systemd).
 */
import { execFile } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import type { Config } from '../../shared/config.js';
import type { ScannedDevice } from '../../workers/hardware/cctalk/scan.js';

const run = promisify(execFile);

export interface RedisFacts {
  version: string;
  /** CONFIG GET values; null when CONFIG is disabled or renamed. */
  appendonly: string | null;
  appendfsync: string | null;
  maxmemoryPolicy: string | null;
  /** Where Redis writes its AOF. */
  dir: string | null;
}

export type FileFacts = { exists: false } | { exists: true; readable: boolean; mode: number };
export type DeviceAccess = 'ok' | 'missing' | 'denied';

export interface DoctorProbes {
  /** Throws when Redis does not answer. */
  redis(url: string): Promise<RedisFacts>;
  /** Connects like the mqtt app (URL, credentials, CA) under another client id; throws when refused. */
  broker(config: Config): Promise<void>;
  file(path: string): Promise<FileFacts>;
  now(): number;
  /** true/false from timedatectl; null when timedatectl is absent. */
  ntpSynchronized(): Promise<boolean | null>;
  disk(path: string): Promise<{ freeBytes: number; totalBytes: number }>;
  serial(path: string): Promise<DeviceAccess>;
  /** Polls the configured ccTalk devices (COINEREX_HARDWARE=cctalk); throws when the port cannot be opened. */
  cctalk(config: Config): Promise<ScannedDevice[]>;
  /** Paths of PM2's systemd units (`pm2 startup systemd`) and of drop-ins beside them. */
  pm2Units(): Promise<{ units: string[]; dropIns: string[] }>;
  /** Whether the PM2 daemon of `pm2Home` collects host metrics (`pm2:sysmonit`, on unless set to false). */
  pm2HostMetrics(pm2Home: string): Promise<boolean>;
}

const TIMEOUT_MS = 4_000;

export const realProbes: DoctorProbes = {
  async redis(url) {
    const redis = new Redis(url, { protocol: 2, lazyConnect: true, connectTimeout: TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const info = await redis.info('server');
      const get = async (name: string) => {
        try {
          const r = (await redis.config('GET', name)) as string[];
          return r[1] ?? null;
        } catch {
          return null;
        }
      };
      return {
        version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
        appendonly: await get('appendonly'),
        appendfsync: await get('appendfsync'),
        maxmemoryPolicy: await get('maxmemory-policy'),
        dir: await get('dir'),
      };
    } finally {
      redis.disconnect();
    }
  },
  async broker(config) {
    const client = await mqtt.connectAsync(config.mqttUrl, {
      // Never the device id: the broker would kick the running agent off.
      clientId: `${config.deviceId}-doctor-${process.pid}`,
      username: config.mqttUsername,
      password: config.mqttPassword,
      ca: config.mqttCa ? readFileSync(config.mqttCa) : undefined,
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT_MS,
    });
    await client.endAsync();
  },
  async file(path) {
    try {
      const st = await fs.stat(path);
      const readable = await fs.access(path, constants.R_OK).then(
        () => true,
        () => false,
      );
      return { exists: true, readable, mode: st.mode & 0o777 };
    } catch {
      return { exists: false };
    }
  },
  now: () => Date.now(),
  async ntpSynchronized() {
    try {
      const { stdout } = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: TIMEOUT_MS });
      return stdout.trim() === 'yes';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      // timedatectl exists but systemd is not running (containers): nothing to say.
      return null;
    }
  },
  async disk(path) {
    const s = await fs.statfs(path);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  },
  async serial(path) {
    try {
      await fs.access(path, constants.R_OK | constants.W_OK);
      return 'ok';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'denied';
    }
  },
  async cctalk(config) {
    // Loaded only here: the other checks never load serialport's native binding.
    const [{ scanBus }, { cctalkDevices }, { defaultPortFactory }, { pino }] = await Promise.all([
      import('../../workers/hardware/cctalk/scan.js'),
      import('../../workers/hardware/cctalk/index.js'),
      import('../../workers/hardware/serial/index.js'),
      import('pino'),
    ]);
    return scanBus({
      path: config.cctalkPath,
      baudRate: config.cctalkBaud,
      openPort: defaultPortFactory,
      log: pino({ level: 'silent' }),
      devices: cctalkDevices(config),
      timeoutMs: Math.max(config.cctalkTimeoutMs, 100),
    });
  },
  async pm2Units() {
    const dir = '/etc/systemd/system';
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const units = names.filter((n) => /^pm2-.+\.service$/.test(n));
    const dropIns: string[] = [];
    for (const u of units) {
      const files = await fs.readdir(`${dir}/${u}.d`).catch(() => [] as string[]);
      dropIns.push(...files.filter((f) => f.endsWith('.conf')).map((f) => `${dir}/${u}.d/${f}`));
    }
    return { units: units.map((u) => `${dir}/${u}`), dropIns };
  },
  async pm2HostMetrics(pm2Home) {
    // Where `pm2 set` keeps module settings; absent or unreadable means PM2's default.
    const conf = await fs.readFile(`${pm2Home}/module_conf.json`, 'utf8').then((raw) => JSON.parse(raw) as { pm2?: { sysmonit?: unknown } }, () => null);
    return conf?.pm2?.sysmonit !== 'false';
  },
};
