/**
 * Configuration: defaults < JSON file (COINEREX_CONFIG) < environment.
 * One schema; every field names its environment variable, unit and default.
 * A bad value stops the process with a message naming the variable and the
 * expected form (docs/architecture.md#interfaces-the-outside-relies-on).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { cashAmountSchema } from './cash.js';

const deviceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" or "-", 1 to 64 characters');
const topicSegment = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" or "-" (no "/", "+" or "#")');
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);
const port = z.number().int().min(1).max(65535);
const mqttUrl = z.string().regex(/^mqtts?:\/\/[^\s/]+(:\d+)?\/?$/, 'mqtt://host[:port] or mqtts://host[:port]');
const redisUrl = z.string().regex(/^rediss?:\/\/\S+$/, 'redis://[user:password@]host[:port][/db]');
const bonusTable = z.record(
  z.string().regex(/^(1|5|10|50|100|200|500|1000|2000)$/, 'keys 1, 5, 10, 50, 100, 200, 500, 1000 or 2000 (NTD inserted)'),
  z.number().int().min(0).max(1000),
);

/** Settings the cloud may change at run time with a `config` command (docs/protocol.md#config). */
export const runtimeSettingsSchema = z.object({
  /** COINEREX_HEARTBEAT_SECONDS: heartbeat interval, seconds. Default 300. */
  heartbeatSeconds: seconds(1, 86_400),
  /** COINEREX_STATUS_SECONDS: periodic status interval, seconds. Default 1800. */
  statusSeconds: seconds(1, 86_400),
  /** COINEREX_LOW_COIN_WARNING: alarm 1 below this inventory. Default 100. */
  lowCoinWarning: z.number().int().min(0).max(100_000),
  /** COINEREX_LOW_COIN_CRITICAL: critical inventory level. Default 20. */
  lowCoinCritical: z.number().int().min(0).max(100_000),
  /** COINEREX_DISPENSE_MAX_PER_COMMAND: remote coins per command. Default 200. */
  dispenseMaxPerCommand: z.number().int().min(1).max(10_000),
  /** COINEREX_DISPENSE_MAX_PER_DAY: remote coins per local day. Default 1000. */
  dispenseMaxPerDay: z.number().int().min(1).max(1_000_000),
  /** COINEREX_BONUS_TABLE: JSON, inserted NTD -> bonus coins, e.g. {"1000":5}. Default {}. */
  bonusTable,
});
export type RuntimeSettings = z.infer<typeof runtimeSettingsSchema>;

export const configSchema = z
  .object({
    /** COINEREX_DEVICE_ID: the machine's id, also the MQTT client id. */
    deviceId,
    /** COINEREX_MODE: `demo` (simulator, cloud-sim) or `production`. */
    mode: z.enum(['demo', 'production']),
    /** COINEREX_MQTT_URL: broker, mqtt:// or mqtts://. */
    mqttUrl,
    mqttUsername: z.string().max(256).optional(),
    mqttPassword: z.string().max(256).optional(),
    /** COINEREX_MQTT_CA: PEM file of the broker's CA (mqtts). */
    mqttCa: z.string().min(1).optional(),
    /** COINEREX_MQTT_KEEPALIVE: seconds; a dead link is noticed after 1.5x this. Default 60. */
    mqttKeepalive: seconds(1, 3600),
    /** COINEREX_MQTT_RECONNECT_MAX_MS: cap of the reconnect back-off. Default 30000. */
    mqttReconnectMaxMs: z.number().int().min(100).max(600_000),
    /** COINEREX_REDIS_URL. Default redis://127.0.0.1:6379. */
    redisUrl,
    /** COINEREX_REDIS_PREFIX: every Redis key and queue lives under it. Default `coinerex`. */
    redisPrefix: topicSegment,
    /** COINEREX_TOPIC_PREFIX. Default `coinerex`. */
    topicPrefix: topicSegment,
    /** COINEREX_HARDWARE: `sim`, `serial` (board link) or `cctalk` (ccTalk peripherals, docs/cctalk.md). */
    hardware: z.enum(['sim', 'serial', 'cctalk']),
    /** COINEREX_SERIAL_PATH: the board's serial device. */
    serialPath: z.string().min(1),
    /** COINEREX_SERIAL_BAUD. Default 115200. */
    serialBaud: z.number().int().min(1200).max(4_000_000),
    // ---- ccTalk (docs/cctalk.md) ----
    /** COINEREX_CCTALK_PATH: the ccTalk bus's serial device. */
    cctalkPath: z.string().min(1),
    /** COINEREX_CCTALK_BAUD. Default 9600 (8N1). */
    cctalkBaud: z.number().int().min(1200).max(115_200),
    /** COINEREX_CCTALK_COIN_ADDRESS: coin acceptor's address; 0 = none. Default 2. */
    cctalkCoinAddress: z.number().int().min(0).max(255),
    /** COINEREX_CCTALK_BILL_ADDRESS: bill validator's address; 0 = none. Default 40. */
    cctalkBillAddress: z.number().int().min(0).max(255),
    /** COINEREX_CCTALK_HOPPER_ADDRESS: hopper's address; 0 = none. Default 3. */
    cctalkHopperAddress: z.number().int().min(0).max(255),
    /** COINEREX_CCTALK_COIN_CHECKSUM: `simple` or `crc16`. Default simple. */
    cctalkCoinChecksum: z.enum(['simple', 'crc16']),
    /** COINEREX_CCTALK_BILL_CHECKSUM: `simple` or `crc16`. Default simple. */
    cctalkBillChecksum: z.enum(['simple', 'crc16']),
    /** COINEREX_CCTALK_HOPPER_CHECKSUM: `simple` or `crc16`. Default simple. */
    cctalkHopperChecksum: z.enum(['simple', 'crc16']),
    /** COINEREX_CCTALK_COIN_VALUES: NTD of coin types 1, 2, …; 0 = unused type. Default 1,5,10,50. */
    cctalkCoinValues: z.array(z.number().int().min(0).max(100_000)).min(1).max(16),
    /** COINEREX_CCTALK_BILL_VALUES: NTD of bill types 1, 2, …; 0 = unused type. Default 100,200,500,1000,2000. */
    cctalkBillValues: z.array(z.number().int().min(0).max(100_000)).min(1).max(16),
    /** COINEREX_CCTALK_HOPPER_COIN_VALUE: NTD of the coin the hopper pays. Default 10. */
    cctalkHopperCoinValue: z.number().int().min(1).max(100_000),
    /** COINEREX_CCTALK_HOPPER_DISPENSE: 167's form, `plain` (count) or `serial` (serial number + count). Default plain. */
    cctalkHopperDispense: z.enum(['plain', 'serial']),
    /** COINEREX_CCTALK_POLL_MS: pause between polls of the devices, ms. Default 200. */
    cctalkPollMs: z.number().int().min(10).max(10_000),
    /** COINEREX_CCTALK_TIMEOUT_MS: wait for a reply, ms. Default 200. */
    cctalkTimeoutMs: z.number().int().min(10).max(10_000),
    // ---- end ccTalk ----
    /**
     * COINEREX_RETRY_SCHEDULE: seconds, three resend gaps and the final wait. Default 10,30,60,60.
     * The guide's three values (10,30,60) are the three resend gaps; the final wait then repeats the last.
     */
    retrySchedule: z
      .array(z.number().positive().max(86_400))
      .min(1)
      .max(10)
      .transform((gaps) => (gaps.length === 3 ? [...gaps, gaps[2]!] : gaps)),
    /** COINEREX_OFFLINE_LIMIT: ACK-required messages held while offline. Default 100. */
    offlineLimit: z.number().int().min(1).max(100_000),
    /** COINEREX_COMMAND_PUBLIC_KEY: PEM file of the Ed25519 command-verification key. */
    commandPublicKey: z.string().min(1).optional(),
    /** COINEREX_ALLOW_UNSIGNED_COMMANDS: 1 accepts unsigned commands in production. */
    allowUnsignedCommands: z.boolean(),
    /** COINEREX_COMMAND_MAX_AGE_SECONDS: older commands are EXPIRED. Default 300. */
    commandMaxAgeSeconds: seconds(1, 86_400),
    // Money-path deadlines and retries (issue 10).
    /** COINEREX_COMMAND_TIMEOUT_SECONDS: a command without `timeout_seconds` gets this deadline; a dispense not started by then is cancelled. Default 120. */
    commandTimeoutSeconds: seconds(1, 86_400),
    /** COINEREX_EVENT_RETRY_MAX_MS: longest wait between two attempts of a hardware event that failed, ms (doubling from 100 ms). Default 30000. */
    eventRetryMaxMs: z.number().int().min(100).max(3_600_000),
    /** COINEREX_PAYOUT_STUCK_SECONDS: a payout with no news for this long (plus 250 ms a coin) is checked with a status report. Default 30. */
    payoutStuckSeconds: seconds(1, 3_600),
    /** COINEREX_COMMAND_RATE_LIMIT: inbound commands per second (burst 5x); the excess is dropped unanswered. Default 20. */
    commandRateLimit: z.number().int().min(1).max(10_000),
    /** COINEREX_UNAUTHENTICATED_ANSWER_RATE: UNAUTHENTICATED results published per second (burst 5x); further bad signatures are refused unanswered. Default 2. */
    unauthenticatedAnswerRate: z.number().int().min(1).max(10_000),
    /** COINEREX_ALLOW_HARD_RESTART: 1 lets `restart` `hard` reboot the board. Default 0. */
    allowHardRestart: z.boolean(),
    /** COINEREX_TIMEZONE: calendar zone for ids, daily reset and close. Default Asia/Taipei. */
    timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Asia/Taipei'),
    /** COINEREX_TIMESTAMP_FORMAT: `unix` seconds or `iso8601`. Default unix. */
    timestampFormat: z.enum(['unix', 'iso8601']),
    /** COINEREX_PROTOCOL_VERSION. Default 1.3.2. */
    protocolVersion: z.string().regex(/^\d+\.\d+(\.\d+)?$/, 'a version such as 1.3.2'),
    // Interoperability with clouds built from the guide (docs/cloud-interop.md).
    /** COINEREX_SEQ: 1 adds the `seq` extension to ACK-required messages; off so a strict envelope check passes. Default 0. */
    seqField: z.boolean(),
    /** COINEREX_FIRMWARE_VERSION: the heartbeat's `firmware_version`. Default: the agent's package version. */
    firmwareVersion: z.string().min(1).max(64).optional(),
    /** COINEREX_RESULT_BUFFER_LIMIT: command results held while the link is down; the oldest beyond it are dropped and counted. Default 100. */
    resultBufferLimit: z.number().int().min(1).max(10_000),
    /** COINEREX_DASHBOARD_HOST. Default 127.0.0.1. */
    dashboardHost: z.string().min(1),
    /** COINEREX_DASHBOARD_PORT. Default 3000. */
    dashboardPort: port,
    dashboardUser: z.string().min(1).max(256).optional(),
    dashboardPassword: z.string().min(1).max(256).optional(),
    /** COINEREX_SIM_CUSTOMERS_PER_MINUTE: simulated customers; 0 = none. */
    simCustomersPerMinute: z.number().min(0).max(60_000),
    /** COINEREX_SIM_INVENTORY: coins in the simulated hopper on first start. Default 2000. */
    simInventory: z.number().int().min(0).max(100_000),
    /** COINEREX_SIM_PAYOUT_MS: simulated time per coin paid, ms. Default 5. */
    simPayoutMs: z.number().int().min(0).max(10_000),
    /** COINEREX_WATCHDOG_SECONDS: an app whose liveness beat is older is restarted. Default 30. */
    watchdogSeconds: seconds(2, 3600),
    /** COINEREX_LOG_LEVEL. Default info. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    // ---- cash acceptance, payout cover and Redis memory (docs/durability.md) ----
    /**
     * COINEREX_ACCEPTED_DENOMINATIONS: NTD bills and coins the acceptors take
     * (1, 5, 10, 50, 100, 200, 500, 1000, 2000); the others are inhibited at
     * the acceptor, and one that still arrives is credited. Default 10,50,100,200,500,1000,2000.
     */
    acceptedDenominations: z.array(cashAmountSchema).min(1).max(9),
    /** COINEREX_PAYOUT_MARGIN_COINS: a denomination is inhibited while its payout plus this many coins exceeds the coins on hand. Default 5. */
    payoutMarginCoins: z.number().int().min(0).max(100_000),
    /** COINEREX_ACCEPTORS_RESEND_SECONDS: set_acceptors is resent this often until the hardware confirms it. Default 5. */
    acceptorsResendSeconds: seconds(1, 3600),
    /** COINEREX_REDIS_MEMORY_ALARM_PERCENT: at this share of Redis maxmemory the acceptors go off and /health fails. Default 80. */
    redisMemoryAlarmPercent: z.number().int().min(10).max(99),
    /** COINEREX_REDIS_MEMORY_CHECK_SECONDS: how often Redis memory is checked. Default 10. */
    redisMemoryCheckSeconds: seconds(1, 3600),
    /** COINEREX_OUT_FAILED_LIMIT: given-up messages kept (oldest dropped and counted). Default 1000. */
    outFailedLimit: z.number().int().min(10).max(1_000_000),
  })
  .merge(runtimeSettingsSchema)
  .strict();

export type Config = Readonly<z.infer<typeof configSchema>>;
type Field = keyof z.infer<typeof configSchema>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const defaults: z.infer<typeof configSchema> = {
  deviceId: 'CCM_001',
  mode: 'demo',
  mqttUrl: 'mqtt://127.0.0.1:1883',
  mqttKeepalive: 60,
  mqttReconnectMaxMs: 30_000,
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'coinerex',
  topicPrefix: 'coinerex',
  hardware: 'sim',
  serialPath: '/dev/ttyS1',
  serialBaud: 115_200,
  cctalkPath: '/dev/ttyUSB0',
  cctalkBaud: 9600,
  cctalkCoinAddress: 2,
  cctalkBillAddress: 40,
  cctalkHopperAddress: 3,
  cctalkCoinChecksum: 'simple',
  cctalkBillChecksum: 'simple',
  cctalkHopperChecksum: 'simple',
  cctalkCoinValues: [1, 5, 10, 50],
  cctalkBillValues: [100, 200, 500, 1000, 2000],
  cctalkHopperCoinValue: 10,
  cctalkHopperDispense: 'plain',
  cctalkPollMs: 200,
  cctalkTimeoutMs: 200,
  retrySchedule: [10, 30, 60, 60],
  offlineLimit: 100,
  allowUnsignedCommands: false,
  commandMaxAgeSeconds: 300,
  commandTimeoutSeconds: 120,
  eventRetryMaxMs: 30_000,
  payoutStuckSeconds: 30,
  commandRateLimit: 20,
  unauthenticatedAnswerRate: 2,
  allowHardRestart: false,
  timezone: 'Asia/Taipei',
  timestampFormat: 'unix',
  protocolVersion: '1.3.2',
  seqField: false,
  resultBufferLimit: 100,
  dashboardHost: '127.0.0.1',
  dashboardPort: 3000,
  simCustomersPerMinute: 0,
  simInventory: 2000,
  simPayoutMs: 5,
  watchdogSeconds: 30,
  logLevel: 'info',
  heartbeatSeconds: 300,
  statusSeconds: 1800,
  lowCoinWarning: 100,
  lowCoinCritical: 20,
  dispenseMaxPerCommand: 200,
  dispenseMaxPerDay: 1000,
  bonusTable: {},
  acceptedDenominations: [10, 50, 100, 200, 500, 1000, 2000],
  payoutMarginCoins: 5,
  acceptorsResendSeconds: 5,
  redisMemoryAlarmPercent: 80,
  redisMemoryCheckSeconds: 10,
  outFailedLimit: 1000,
};

/** Field -> environment variable: COINEREX_ + the field in UPPER_SNAKE. */
export function envName(field: string): string {
  const special: Record<string, string> = { seqField: 'COINEREX_SEQ' };
  return special[field] ?? `COINEREX_${field.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
}

type Kind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'json';
const kinds: Partial<Record<Field, Kind>> = {
  mqttKeepalive: 'int', mqttReconnectMaxMs: 'int', serialBaud: 'int', offlineLimit: 'int',
  commandMaxAgeSeconds: 'int', commandTimeoutSeconds: 'int', eventRetryMaxMs: 'int', payoutStuckSeconds: 'int', commandRateLimit: 'int', unauthenticatedAnswerRate: 'int', dashboardPort: 'int', simInventory: 'int', simPayoutMs: 'int',
  watchdogSeconds: 'int', heartbeatSeconds: 'int', statusSeconds: 'int', lowCoinWarning: 'int',
  lowCoinCritical: 'int', dispenseMaxPerCommand: 'int', dispenseMaxPerDay: 'int', resultBufferLimit: 'int',
  simCustomersPerMinute: 'number',
  payoutMarginCoins: 'int', acceptorsResendSeconds: 'int', redisMemoryAlarmPercent: 'int', redisMemoryCheckSeconds: 'int', outFailedLimit: 'int',
  acceptedDenominations: 'list',
  allowUnsignedCommands: 'bool', allowHardRestart: 'bool', seqField: 'bool',
  retrySchedule: 'list', bonusTable: 'json',
  cctalkBaud: 'int', cctalkCoinAddress: 'int', cctalkBillAddress: 'int', cctalkHopperAddress: 'int', cctalkHopperCoinValue: 'int',
  cctalkPollMs: 'int', cctalkTimeoutMs: 'int', cctalkCoinValues: 'list', cctalkBillValues: 'list',
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** JSON.parse that refuses keys which could reach an object's prototype. */
function parseJson(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new Error(`forbidden key "${key}"`);
    return value;
  });
}

/** Converts one environment string; returns the raw string when it does not parse so the schema names it. */
function fromEnv(kind: Kind, raw: string): unknown {
  const s = raw.trim();
  switch (kind) {
    case 'int':
    case 'number':
      // Plain decimals only: Number() would also take "0x10", "1e3" and "".
      return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : raw;
    case 'bool':
      if (['1', 'true', 'yes', 'on'].includes(s.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(s.toLowerCase())) return false;
      return raw;
    case 'list':
      return s.split(',').map((p) => (/^\d+(\.\d+)?$/.test(p.trim()) ? Number(p) : p));
    case 'json':
      try {
        return parseJson(s);
      } catch {
        return raw;
      }
    default:
      return raw;
  }
}

const expected: Partial<Record<Field, string>> = {
  retrySchedule: 'comma-separated seconds such as 10,30,60 or 10,30,60,60',
  acceptedDenominations: 'comma-separated NTD values among 1,5,10,50,100,200,500,1000,2000',
  bonusTable: 'JSON object of inserted NTD to bonus coins such as {"1000":5}',
  allowUnsignedCommands: '0 or 1', allowHardRestart: '0 or 1', seqField: '0 or 1',
};

/**
 * Loads, merges and validates the configuration. Throws ConfigError listing
 * every bad field by its variable (or file key) and the expected form.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const merged: Record<string, unknown> = { ...defaults };
  const source: Record<string, string> = {};
  const file = env.COINEREX_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseJson(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`COINEREX_CONFIG (${file}): cannot read a JSON object: ${(err as Error).message}`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([`COINEREX_CONFIG (${file}): expected a JSON object`]);
    }
    for (const [k, v] of Object.entries(parsed)) {
      merged[k] = v;
      source[k] = `"${k}" in ${file}`;
    }
  }
  const fields = Object.keys(configSchema.shape) as Field[];
  for (const field of fields) {
    const name = envName(field);
    const raw = env[name];
    if (raw === undefined) continue;
    merged[field] = fromEnv(kinds[field] ?? 'string', raw);
    source[field] = name;
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const field = String(issue.path[0] ?? '');
      const where = source[field] ?? (field ? `${envName(field)} (default)` : 'configuration');
      const got = field in merged ? JSON.stringify(merged[field]) : 'nothing';
      const want = expected[field as Field] ?? issue.message;
      problems.push(
        issue.code === 'unrecognized_keys'
          ? `${source[(issue as { keys: string[] }).keys[0] ?? ''] ?? 'configuration'}: unknown setting(s) ${(issue as { keys: string[] }).keys.join(', ')}`
          : `${where}: expected ${want}; got ${got}`,
      );
    }
  }
  if (result.success) {
    const c = result.data;
    if (c.hardware === 'serial' && !source.serialPath) problems.push('COINEREX_SERIAL_PATH: required when COINEREX_HARDWARE=serial');
    if (c.hardware === 'cctalk' && !source.cctalkPath) problems.push('COINEREX_CCTALK_PATH: required when COINEREX_HARDWARE=cctalk');
    if (c.lowCoinCritical > c.lowCoinWarning) problems.push(`COINEREX_LOW_COIN_CRITICAL: expected at most COINEREX_LOW_COIN_WARNING (${c.lowCoinWarning}); got ${c.lowCoinCritical}`);
    if (c.mode === 'production' && !c.commandPublicKey && !c.allowUnsignedCommands) {
      problems.push('COINEREX_COMMAND_PUBLIC_KEY: required in production (a PEM file path), unless COINEREX_ALLOW_UNSIGNED_COMMANDS=1');
    }
    if (c.mqttUsername === undefined && c.mqttPassword !== undefined) problems.push('COINEREX_MQTT_USERNAME: required when COINEREX_MQTT_PASSWORD is set');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result.data!);
}
