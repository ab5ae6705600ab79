/** The driver contract (test/helpers/driver-contract.ts) run against the serial driver and the board emulator over a real pty. */
import test from 'ava';
import { driverContract } from '../helpers/driver-contract.js';
import { serialRig } from '../helpers/serial-harness.js';

// One test at a time: each spawns socat and an emulator, and link timings must not suffer from a loaded machine.
driverContract(test.serial as unknown as typeof test, async ({ inventory }) => {
  const rig = await serialRig({ inventory, start: false });
  return {
    driver: rig.driver,
    insertCash: async (amount) => {
      await rig.board.command(amount === 50 ? 'coin 50' : `bill ${amount}`);
    },
    coinsDispensed: async () => (await rig.board.state()).state.totals.paidOut,
    dispose: () => rig.dispose(),
  };
});
