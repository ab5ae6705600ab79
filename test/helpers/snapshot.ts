/** A machine snapshot for tests: an idle, unlocked machine in standby with zeroed books. */
import { counterFields, dailyFields, type Counters, type Daily, type MachineSnapshot } from '../../shared/machine-state.js';

export const machineSnapshot = (over: Partial<MachineSnapshot> = {}): MachineSnapshot => ({
  status: 1,
  locked: false,
  lockUntil: null,
  doorOpen: false,
  inventory: 500,
  inventoryKnown: true,
  acceptorsEnabled: true,
  inhibited: [],
  lastTransactionAt: null,
  lastMaintenanceAt: null,
  serviceStatus: { coin_acceptor: 'operational', bill_acceptor: 'operational', dispenser: 'operational', display: 'operational' },
  counters: Object.fromEntries(counterFields.map((f) => [f, 0])) as Counters,
  activeErrors: [],
  activeAlarms: [],
  today: Object.fromEntries(dailyFields.map((f) => [f, 0])) as Daily,
  ...over,
});
