/** The MachinePort contract (test/helpers/machine-port-contract.ts) against the real machine and against the commands harness's fake. */
import test from 'ava';
import { startBusinessRig } from '../helpers/business-rig.js';
import { TestMachine } from '../helpers/commands-harness.js';
import { machinePortContract } from '../helpers/machine-port-contract.js';

machinePortContract(test, 'business machine', async () => {
  const rig = await startBusinessRig();
  await rig.settle();
  return { port: rig.business.machine, dispose: () => rig.close() };
});

machinePortContract(test, 'TestMachine', async () => ({ port: new TestMachine(), dispose: async () => undefined }));
