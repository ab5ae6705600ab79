/**
 * Who answers on a ccTalk bus: for `coinerex doctor` (docs/cctalk.md
 * "Bringing a device up"). Polls each configured address and asks what it
 * is; the `hardware` app must not hold the port meanwhile.
 */
import type { Logger } from '../../../shared/logger.js';
import type { PortFactory } from '../serial/reconnecting-port.js';
import { CctalkBus } from './bus.js';
import type { DeviceConfig, Role } from './cctalk-driver.js';
import { H, ascii, serialNumber } from '../../../shared/cctalk/headers.js';

export interface ScannedDevice {
  role: Role;
  address: number;
  answered: boolean;
  category?: string;
  product?: string;
  manufacturer?: string;
  serial?: number;
}

export async function scanBus(o: {
  path: string;
  baudRate: number;
  openPort: PortFactory;
  log: Logger;
  devices: Partial<Record<Role, DeviceConfig>>;
  timeoutMs: number;
  openWaitMs?: number;
}): Promise<ScannedDevice[]> {
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const bus = new CctalkBus({ path: o.path, baudRate: o.baudRate, openPort: o.openPort, log: o.log, timeoutMs: o.timeoutMs, onOpen: () => opened() });
  bus.start();
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([open, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${o.path}: cannot open the port`)), o.openWaitMs ?? 3000)))]);
    clearTimeout(timer);
    const out: ScannedDevice[] = [];
    for (const [role, d] of Object.entries(o.devices) as Array<[Role, DeviceConfig]>) {
      const ask = (header: number) => bus.request(d.address, header, [], d.checksum, { retries: 2 });
      const text = (header: number) => ask(header).then(ascii, () => undefined);
      const answered = await ask(H.simplePoll).then(
        () => true,
        () => false,
      );
      if (!answered) {
        out.push({ role, address: d.address, answered });
        continue;
      }
      out.push({
        role,
        address: d.address,
        answered,
        category: await text(H.requestEquipmentCategory),
        product: await text(H.requestProductCode),
        manufacturer: await text(H.requestManufacturerId),
        serial: await ask(H.requestSerialNumber).then(serialNumber, () => undefined),
      });
    }
    return out;
  } finally {
    await bus.close();
  }
}
