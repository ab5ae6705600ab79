/**
 * Hostile configuration: generated bad values for every variable and bad
 * configuration files. Each must be refused with a message naming the
 * variable (or file key); none may be silently accepted or crash otherwise.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError, envName } from '../../shared/config.js';

const intFields = [
  'mqttKeepalive', 'mqttReconnectMaxMs', 'serialBaud', 'offlineLimit', 'commandMaxAgeSeconds', 'dashboardPort', 'simInventory',
  'simPayoutMs', 'watchdogSeconds', 'heartbeatSeconds', 'statusSeconds', 'lowCoinWarning', 'lowCoinCritical',
  'dispenseMaxPerCommand', 'dispenseMaxPerDay',
];
const badInts = ['-1', '1.5', '1e12', 'abc', '', ' ', '0x10', 'NaN', 'Infinity', '9'.repeat(400)];
const boolFields = ['allowUnsignedCommands', 'allowHardRestart', 'seqField'];
const badBools = ['2', 'yes please', '', 'null'];
const enumFields: Record<string, string[]> = {
  mode: ['prod', 'DEMO', ''],
  hardware: ['usb', 'SIM', ''],
  timestampFormat: ['ms', 'iso'],
  logLevel: ['loud', 'INFO'],
};
const stringCases: Record<string, string[]> = {
  deviceId: ['', 'a/b', 'a+b', 'x'.repeat(65), 'dev#1', 'a b', '../etc'],
  topicPrefix: ['', 'a/b', '#', '+'],
  redisPrefix: ['', 'a b', 'x:y'],
  mqttUrl: ['', 'http://h', 'mqtt://', 'tcp://h:1883', 'mqtt://h:1883/extra/path', 'mqtt://h h'],
  redisUrl: ['', 'localhost', 'http://h:6379'],
  timezone: ['', 'Mars/Olympus', 'UTC+8 '],
  retrySchedule: ['', '10,,30', '10,-1', 'a,b', '0', '1,2,3,4,5,6,7,8,9,10,11'],
  bonusTable: ['', '[1]', '{"999":5}', '{"1000":-1}', '{"1000":"five"}', 'not json', '{"__proto__":{"x":1}}'],
  protocolVersion: ['', 'v1', '1'],
  simCustomersPerMinute: ['-1', 'many', '1e9'],
};

const cases: Array<[string, string]> = [];
for (const f of intFields) for (const v of badInts) cases.push([envName(f), v]);
for (const f of boolFields) for (const v of badBools) cases.push([envName(f), v]);
for (const [f, vs] of Object.entries(enumFields)) for (const v of vs) cases.push([envName(f), v]);
for (const [f, vs] of Object.entries(stringCases)) for (const v of vs) cases.push([envName(f), v]);

test('at least 200 hostile environment values', (t) => {
  t.true(cases.length >= 200, `${cases.length} cases`);
});

for (const [name, value] of cases) {
  test(`env ${name}=${JSON.stringify(value).slice(0, 40)} is refused by name`, (t) => {
    const err = t.throws(() => loadConfig({ [name]: value }), { instanceOf: ConfigError });
    t.regex(err!.message, new RegExp(`${name}: expected`));
  });
}

const files: Array<[string, string, RegExp]> = [
  ['array', '[1,2]', /expected a JSON object/],
  ['null', 'null', /expected a JSON object/],
  ['number', '42', /expected a JSON object/],
  ['truncated', '{"deviceId": "A"', /cannot read/],
  ['binary', '\u0000\u0001\u0002', /cannot read/],
  ['unknown key', '{"deviceID": "A"}', /unknown setting\(s\) deviceID/],
  ['wrong type', '{"offlineLimit": "100"}', /"offlineLimit" in .*: expected/],
  ['nested', '{"deviceId": {"a": 1}}', /"deviceId" in .*: expected/],
  ['proto', '{"__proto__": {"mode": "production"}, "offlineLimit": -5}', /forbidden key "__proto__"/],
  ['huge list', JSON.stringify({ retrySchedule: Array.from({ length: 1000 }, () => 1) }), /"retrySchedule" in .*: expected/],
];
for (const [what, content, expected] of files) {
  test(`config file (${what}) is refused with the key named`, (t) => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-hostile-')), 'c.json');
    writeFileSync(file, content);
    const err = t.throws(() => loadConfig({ COINEREX_CONFIG: file }), { instanceOf: ConfigError });
    t.regex(err!.message, expected);
  });
}
