/**
 * A committed message is read back from `unsent` as it was written
 * (docs/durability.md): the plan's `seq` joins the envelope, seq 0 means
 * none, and anything unreadable is null (moved aside, never sent half-read).
 */
import test from 'ava';
import { fixedClock } from '../../shared/clock.js';
import { parseUnsent } from '../../workers/business/outbox/publisher.js';
import { partialEnvelope } from '../helpers/envelopes.js';

const ctx = { deviceId: 'CCM_001', version: '1.3.2', timestampFormat: 'unix' as const, clock: fixedClock(Date.UTC(2025, 8, 12)) };

test('an unsent record gives back its envelope, numbered by the plan when seq > 0', async (t) => {
  const envelope = await partialEnvelope(ctx, 'transaction', { transaction_id: 'TXN_20250912_000000_001' });
  t.deepEqual(parseUnsent(JSON.stringify({ seq: 7, envelope })), { ...envelope, seq: 7 });
  t.deepEqual(parseUnsent(JSON.stringify({ seq: 0, envelope })), envelope);
  t.deepEqual(parseUnsent(JSON.stringify({ envelope })), envelope);
});

test('an unreadable unsent record is null', async (t) => {
  const envelope = await partialEnvelope(ctx, 'transaction', {});
  for (const raw of ['not json', 'null', JSON.stringify({ seq: '7', envelope }), JSON.stringify({ seq: 1, envelope: 'text' }), JSON.stringify({ seq: 1, envelope: { ...envelope, message_id: 'x' } })]) {
    t.is(parseUnsent(raw), null, raw);
  }
});
