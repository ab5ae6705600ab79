/**
 * The serial board driver (docs/board-link.md). `createSerialDriver` builds
 * it over serialport 13 unless a port factory is injected.
 */
import { SerialPort } from 'serialport';
import { serialDriver, type SerialDriver, type SerialDriverOptions } from './serial-driver.js';
import type { PortFactory } from './reconnecting-port.js';

export type { SerialDriver, SerialDriverOptions } from './serial-driver.js';
export type { PortFactory, SerialPortLike } from './reconnecting-port.js';
export type { LinkCounters } from './board-link.js';

/** serialport's SerialPort, unopened; `lock: true` keeps a second process (a lingering old one) off the port. */
export const defaultPortFactory: PortFactory = ({ path, baudRate }) => new SerialPort({ path, baudRate, autoOpen: false, lock: true });

export function createSerialDriver(opts: Omit<SerialDriverOptions, 'openPort'> & { openPort?: PortFactory }): SerialDriver {
  return serialDriver({ ...opts, openPort: opts.openPort ?? defaultPortFactory });
}
