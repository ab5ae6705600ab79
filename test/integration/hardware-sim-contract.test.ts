/** The driver contract (test/helpers/driver-contract.ts) run against the simulator on the real Redis. */
import test from 'ava';
import { pino } from 'pino';
import { workerConnection } from '../../shared/redis.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { SimDriver } from '../../workers/hardware/sim/sim-driver.js';
import { driverContract } from '../helpers/driver-contract.js';
import { testEnv, cleanupRedis, REDIS_URL } from '../helpers/env.js';

driverContract(test, async ({ inventory }) => {
  const env = testEnv();
  const redis = workerConnection(REDIS_URL);
  const sim = new SimDriver({ redis, keys: env.keys, log: pino({ level: 'silent' }) }, { initialInventory: inventory, payoutMs: 1 });
  return {
    driver: sim,
    insertCash: async (amount) => {
      await sim.insertCash(amount);
    },
    coinsDispensed: async () => (await readPhysicalTruth(redis, env.keys)).dispensed,
    dispose: async () => {
      await cleanupRedis(env.prefix);
      redis.disconnect();
    },
  };
});
