/**
 * The ccTalk driver (docs/cctalk.md), built from the configuration over
 * serialport 13 unless a port factory is injected.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../../shared/config.js';
import type { RedisKeys } from '../../../shared/keys.js';
import type { Logger } from '../../../shared/logger.js';
import type { Metrics } from '../../../shared/metrics.js';
import { defaultPortFactory } from '../serial/index.js';
import type { PortFactory } from '../serial/reconnecting-port.js';
import { CctalkHardware, dispenseAuths, type CctalkDriver, type CctalkDriverOptions, type DeviceConfig, type Role } from './cctalk-driver.js';

export type { CctalkDriver, CctalkDriverOptions, Role } from './cctalk-driver.js';

type CctalkConfig = Pick<
  Config,
  | 'cctalkPath'
  | 'cctalkBaud'
  | 'cctalkCoinAddress'
  | 'cctalkBillAddress'
  | 'cctalkHopperAddress'
  | 'cctalkCoinChecksum'
  | 'cctalkBillChecksum'
  | 'cctalkHopperChecksum'
  | 'cctalkCoinValues'
  | 'cctalkBillValues'
  | 'cctalkHopperDispense'
  | 'cctalkPollMs'
  | 'cctalkTimeoutMs'
>;

/** The devices the configuration names (address 0: none). */
export function cctalkDevices(c: CctalkConfig): Partial<Record<Role, DeviceConfig>> {
  const out: Partial<Record<Role, DeviceConfig>> = {};
  if (c.cctalkCoinAddress) out.coin = { address: c.cctalkCoinAddress, checksum: c.cctalkCoinChecksum };
  if (c.cctalkBillAddress) out.bill = { address: c.cctalkBillAddress, checksum: c.cctalkBillChecksum };
  if (c.cctalkHopperAddress) out.hopper = { address: c.cctalkHopperAddress, checksum: c.cctalkHopperChecksum };
  return out;
}

export function createCctalkDriver(
  config: CctalkConfig,
  deps: { redis: Redis; keys: RedisKeys; log: Logger; metrics?: Metrics; openPort?: PortFactory },
  overrides: Partial<CctalkDriverOptions> = {},
): CctalkDriver {
  return new CctalkHardware({
    path: config.cctalkPath,
    baudRate: config.cctalkBaud,
    openPort: deps.openPort ?? defaultPortFactory,
    redis: deps.redis,
    keys: deps.keys,
    log: deps.log,
    metrics: deps.metrics,
    devices: cctalkDevices(config),
    coinValues: config.cctalkCoinValues,
    billValues: config.cctalkBillValues,
    dispenseAuth: dispenseAuths[config.cctalkHopperDispense],
    pollMs: config.cctalkPollMs,
    timeoutMs: config.cctalkTimeoutMs,
    ...overrides,
  });
}
