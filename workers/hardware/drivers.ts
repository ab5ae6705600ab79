/**
 * Picks the hardware driver from the configuration (COINEREX_HARDWARE):
 * the built-in simulator, the serial link to the machine's board, or a
 * ccTalk bus of standard peripherals (docs/cctalk.md).
 */
import type { AppContext } from '../../shared/app-runner.js';
import type { Metrics } from '../../shared/metrics.js';
import type { HardwareDriver } from './driver.js';
import { SimDriver, type Simulator } from './sim/sim-driver.js';

export interface Drivers {
  driver: HardwareDriver;
  /** Only with the simulator: the physical side for `coinerex sim` and simulated customers. */
  simulator?: Simulator;
}

export async function makeDrivers(ctx: Pick<AppContext, 'config' | 'redis' | 'keys' | 'log'>, metrics: Metrics): Promise<Drivers> {
  const { config, redis, keys, log } = ctx;
  switch (config.hardware) {
    case 'sim': {
      const sim = new SimDriver(
        { redis, keys, log: log.child({ driver: 'sim' }) },
        { initialInventory: config.simInventory, payoutMs: config.simPayoutMs },
      );
      return { driver: sim, simulator: sim };
    }
    case 'serial': {
      // Loaded only here: the simulator profile never loads serialport's native binding.
      const { createSerialDriver } = await import('./serial/index.js');
      return {
        driver: createSerialDriver({ path: config.serialPath, baudRate: config.serialBaud, log, metrics }),
      };
    }
    case 'cctalk': {
      const { createCctalkDriver } = await import('./cctalk/index.js');
      return { driver: createCctalkDriver(config, { redis, keys, log, metrics }) };
    }
  }
}
