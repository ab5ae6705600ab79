/** The driver contract (test/helpers/driver-contract.ts) run against the ccTalk driver and the ccTalk emulator over a real pty. */
import test from 'ava';
import { driverContract } from '../helpers/driver-contract.js';
import { waitFor } from '../helpers/env.js';
import { cctalkRig } from '../helpers/cctalk-harness.js';

// One test at a time: each spawns socat, and bus timings must not suffer from a loaded machine.
driverContract(test.serial as unknown as typeof test, async ({ inventory }) => {
  const rig = await cctalkRig({ emulator: { inventory }, start: false });
  return {
    driver: rig.driver,
    insertCash: async (amount) => {
      rig.control(amount === 50 ? 'coin 50' : `bill ${amount}`);
      // Taken or handed back: the escrow is empty again, and two more rounds of polls read every buffer.
      await waitFor(() => rig.emulator.bill.escrow === 0, 10_000, 'the escrow emptied');
      const requests = rig.emulator.bus.counters.requests;
      await waitFor(() => rig.emulator.bus.counters.requests >= requests + 6, 10_000, 'two more rounds of polls');
    },
    coinsDispensed: async () => rig.emulator.hopper.dispensed,
    dispose: () => rig.dispose(),
  };
});

