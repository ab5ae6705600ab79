/**
 * The `status` message's data (docs/protocol.md#status): machine status and its
 * Chinese description, lock and door state, coin inventory against its
 * thresholds, active error and alarm codes, and whether the service is
 * available, and what the acceptors take (denominations refused by the
 * configuration or because the hopper cannot cover them). A pure function of the machine snapshot, shared by the business
 * app (on every status change and every 30 min) and the mqtt app (after every
 * reconnect).
 */
import { z } from 'zod';
import { formatTimestamp, type TimestampFormat } from './clock.js';
import { machineStatus, machineStatusDescription, mostSevereAlarm, mostSevereError, serviceAvailable } from './codes.js';
import type { MachineSnapshot } from './machine-state.js';
import { timestampSchema } from './messages.js';

export interface StatusThresholds {
  lowCoinWarning: number;
  lowCoinCritical: number;
  /** Format of `lock.until`; default `unix` (docs/protocol.md#3-envelope). */
  timestampFormat?: TimestampFormat;
}

export const inventoryLevels = ['normal', 'low', 'critical', 'empty'] as const;

export const statusDataSchema = z.object({
  machine_status: z.union([z.literal(0), z.literal(1), z.literal(3), z.literal(4)]),
  status_description: z.string(),
  lock: z.object({ locked: z.boolean(), until: timestampSchema.nullable() }),
  door: z.object({ open: z.boolean(), state: z.enum(['open', 'closed']) }),
  coin_inventory: z.object({
    coins: z.number().int().nonnegative(),
    coin_value: z.literal(10),
    low_warning_threshold: z.number().int().nonnegative(),
    low_critical_threshold: z.number().int().nonnegative(),
    level: z.enum(inventoryLevels),
  }),
  codes: z.object({
    error_code: z.number().int().nonnegative(),
    alarm_code: z.number().int().nonnegative(),
    active_errors: z.array(z.number().int()),
    active_alarms: z.array(z.number().int()),
  }),
  service_available: z.boolean(),
  /** Extension: acceptors as the hardware confirmed them, and each denomination refused with why (`config` | `coins`). */
  acceptors: z
    .object({
      enabled: z.boolean(),
      inhibited: z.array(z.object({ amount: z.number().int().positive(), reason: z.enum(['config', 'coins']) })),
    })
    .optional(),
});
export type StatusData = z.infer<typeof statusDataSchema>;

export function inventoryLevel(coins: number, t: StatusThresholds): (typeof inventoryLevels)[number] {
  if (coins <= 0) return 'empty';
  if (coins < t.lowCoinCritical) return 'critical';
  if (coins < t.lowCoinWarning) return 'low';
  return 'normal';
}

/**
 * The service is unavailable while locked, in fault, with a critical error
 * (docs/protocol.md#6-error-and-alarm-codes), with the door open, or with an alarm that stops service (docs/protocol.md#alarm-codes).
 */
export function machineInService(s: MachineSnapshot): boolean {
  return !s.locked && !s.doorOpen && s.status !== machineStatus.fault && serviceAvailable({ errors: s.activeErrors, alarms: s.activeAlarms });
}

export function buildStatusData(s: MachineSnapshot, t: StatusThresholds): StatusData {
  return {
    machine_status: s.status,
    status_description: machineStatusDescription[s.status],
    lock: { locked: s.locked, until: s.locked && s.lockUntil !== null ? formatTimestamp(s.lockUntil, t.timestampFormat ?? 'unix') : null },
    door: { open: s.doorOpen, state: s.doorOpen ? 'open' : 'closed' },
    coin_inventory: {
      coins: s.inventory,
      coin_value: 10,
      low_warning_threshold: t.lowCoinWarning,
      low_critical_threshold: t.lowCoinCritical,
      level: inventoryLevel(s.inventory, t),
    },
    codes: {
      error_code: mostSevereError(s.activeErrors),
      alarm_code: mostSevereAlarm(s.activeAlarms),
      active_errors: [...s.activeErrors],
      active_alarms: [...s.activeAlarms],
    },
    service_available: machineInService(s),
    acceptors: { enabled: s.acceptorsEnabled, inhibited: s.inhibited.map((i) => ({ amount: i.amount, reason: i.reason })) },
  };
}
