import test from 'ava';
import { topics, parseInboundTopic } from '../../shared/topics.js';
import { formatTimestamp, parseTimestamp, localParts, fixedClock } from '../../shared/clock.js';
import { partialEnvelope } from '../helpers/envelopes.js';
import { envelopeSchema } from '../../shared/messages.js';
import { errorCodes, alarmCodes, isCritical, mostSevereError, mostSevereAlarm } from '../../shared/codes.js';

test('topics follow docs/protocol.md#2-topics with a configurable prefix', (t) => {
  const tp = topics('acme', 'CCM_001');
  t.is(tp.outbound('transaction'), 'acme/transaction/CCM_001');
  t.is(tp.ack, 'acme/ack/CCM_001');
  t.is(tp.commandResult, 'acme/commands/CCM_001/ack');
  t.deepEqual(tp.subscriptions(), [
    'acme/ack/CCM_001',
    'acme/commands/CCM_001/coin_dispense',
    'acme/commands/CCM_001/restart',
    'acme/commands/CCM_001/lock',
    'acme/commands/CCM_001/query',
    'acme/commands/CCM_001/config',
    'acme/commands/CCM_001/clear_error',
  ]);
  t.false(tp.subscriptions().includes(tp.commandResult), 'own results are never subscribed');
});

test('inbound topics are classified; our own command results are not commands', (t) => {
  t.deepEqual(parseInboundTopic('coinerex/ack/CCM_001', 'coinerex', 'CCM_001'), { kind: 'ack' });
  t.deepEqual(parseInboundTopic('coinerex/commands/CCM_001/lock', 'coinerex', 'CCM_001'), { kind: 'command', commandType: 'lock' });
  t.deepEqual(parseInboundTopic('coinerex/commands/CCM_001/ack', 'coinerex', 'CCM_001'), { kind: 'command-result' });
  t.deepEqual(parseInboundTopic('coinerex/ack/OTHER', 'coinerex', 'CCM_001'), { kind: 'other' });
  t.deepEqual(parseInboundTopic('other/ack/CCM_001', 'coinerex', 'CCM_001'), { kind: 'other' });
});

test('timestamps: Unix seconds by default, ISO 8601 by option, both accepted inbound', (t) => {
  const ms = Date.UTC(2025, 8, 12, 2, 30, 0, 123);
  t.is(formatTimestamp(ms, 'unix'), 1757644200);
  t.is(formatTimestamp(ms, 'iso8601'), '2025-09-12T02:30:00.123Z');
  t.is(parseTimestamp(1757644200), 1757644200000);
  t.is(parseTimestamp('2025-09-12T10:30:00+08:00'), Date.UTC(2025, 8, 12, 2, 30));
  t.is(parseTimestamp('yesterday'), null);
  t.is(parseTimestamp(null), null);
});

test('calendar fields are in Asia/Taipei, the epoch is not shifted', (t) => {
  // 15:59:59 UTC is 23:59:59 in Taipei; one second later it is the next local day.
  t.deepEqual(localParts(Date.UTC(2025, 8, 12, 15, 59, 59), 'Asia/Taipei'), { date: '20250912', time: '235959', isoDate: '2025-09-12' });
  t.deepEqual(localParts(Date.UTC(2025, 8, 12, 16, 0, 0), 'Asia/Taipei'), { date: '20250913', time: '000000', isoDate: '2025-09-13' });
});

test('envelope is complete and valid', async (t) => {
  const clock = fixedClock(Date.UTC(2025, 8, 12, 2, 30));
  const e = await partialEnvelope({ deviceId: 'CCM_001', version: '1.3.2', timestampFormat: 'unix', clock }, 'heartbeat', { status: 'online' });
  t.true(envelopeSchema.safeParse(e).success);
  t.is(e.timestamp, 1757644200);
  t.is(e.message_type, 'heartbeat');
  t.regex(e.message_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const e2 = await partialEnvelope({ deviceId: 'CCM_001', version: '1.3.2', timestampFormat: 'iso8601', clock }, 'heartbeat', {});
  t.is(e2.timestamp, '2025-09-12T02:30:00.000Z');
  t.not(e.message_id, e2.message_id);
});

test('code tables match docs/protocol.md#6-error-and-alarm-codes', (t) => {
  t.is(errorCodes.size, 19);
  t.is(errorCodes.get(42)?.description, '退幣器已無硬幣');
  t.is(errorCodes.get(12)?.autoRecoverable, false);
  t.is(errorCodes.get(21)?.autoRecoverable, true);
  t.deepEqual([...errorCodes.values()].filter((c) => isCritical(c.code)).map((c) => c.code), [1, 41, 42]);
  t.is(mostSevereError([44, 42, 21]), 42);
  t.is(mostSevereError([]), 0);
  t.is(alarmCodes.get(2)?.serviceAvailable, false);
  t.is(mostSevereAlarm([3, 1]), 1);
});
