import test from 'ava';
import { machineSnapshot } from '../helpers/snapshot.js';
import { buildStatusData, statusDataSchema } from '../../shared/status-message.js';

const snapshot = machineSnapshot;
const thresholds = { lowCoinWarning: 100, lowCoinCritical: 20 };

test('a standby machine: status, Chinese description, inventory against thresholds, service available', (t) => {
  const d = buildStatusData(snapshot(), thresholds);
  t.true(statusDataSchema.safeParse(d).success);
  t.deepEqual(d, {
    machine_status: 1,
    status_description: '待機',
    lock: { locked: false, until: null },
    door: { open: false, state: 'closed' },
    coin_inventory: { coins: 500, coin_value: 10, low_warning_threshold: 100, low_critical_threshold: 20, level: 'normal' },
    codes: { error_code: 0, alarm_code: 0, active_errors: [], active_alarms: [] },
    service_available: true,
    acceptors: { enabled: true, inhibited: [] },
  });
});

test('denominations the acceptors refuse are in the status, each with why', (t) => {
  const d = buildStatusData(snapshot({ inhibited: [{ amount: 1, reason: 'config' }, { amount: 2000, reason: 'coins' }] }), thresholds);
  t.true(statusDataSchema.safeParse(d).success);
  t.deepEqual(d.acceptors, { enabled: true, inhibited: [{ amount: 1, reason: 'config' }, { amount: 2000, reason: 'coins' }] });
});

test('inventory levels follow the thresholds', (t) => {
  const level = (inventory: number) => buildStatusData(snapshot({ inventory }), thresholds).coin_inventory.level;
  t.deepEqual([100, 99, 20, 19, 0].map(level), ['normal', 'low', 'low', 'critical', 'empty']);
});

test('the most severe codes are reported, and what stops service makes it unavailable', (t) => {
  const faulted = buildStatusData(snapshot({ status: 4, activeErrors: [13, 41], activeAlarms: [1] }), thresholds);
  t.like(faulted, { machine_status: 4, status_description: '故障', codes: { error_code: 41, alarm_code: 1, active_errors: [13, 41], active_alarms: [1] }, service_available: false });
  t.true(buildStatusData(snapshot({ activeErrors: [13], activeAlarms: [1] }), thresholds).service_available, 'a non-critical error and low coins keep service');
  t.false(buildStatusData(snapshot({ doorOpen: true, activeAlarms: [2] }), thresholds).service_available);
  t.false(buildStatusData(snapshot({ activeAlarms: [3] }), thresholds).service_available);
  const locked = buildStatusData(snapshot({ locked: true, lockUntil: 1_757_644_200_000, activeAlarms: [3] }), { ...thresholds, timestampFormat: 'iso8601' });
  t.deepEqual(locked.lock, { locked: true, until: '2025-09-12T02:30:00.000Z' });
  t.false(locked.service_available);
  t.is(buildStatusData(snapshot({ locked: true, lockUntil: 1_757_644_200_000 }), thresholds).lock.until, 1_757_644_200);
});
