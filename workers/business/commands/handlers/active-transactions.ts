/**
 * `restart`'s `active_transactions` (docs/commands.md): the transactions whose
 * coins are still being paid, exchanges as well as remote dispenses, read from
 * the payout lane. A debt payout belongs to no open transaction and is not
 * counted; two payouts of one transaction (an interrupted one and its rest)
 * count once.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../../../../shared/keys.js';

export async function activeTransactions(redis: Redis, keys: RedisKeys): Promise<number> {
  const ids = await redis.lrange(keys.payoutLane, 0, -1);
  if (ids.length === 0) return 0;
  const m = redis.multi();
  for (const id of ids) m.hmget(keys.payoutIntent(id), 'purpose', 'ref', 'state');
  const rows = ((await m.exec()) ?? []).map(([, v]) => (v ?? []) as Array<string | null>);
  const refs = new Set<string>();
  for (const [purpose, ref, state] of rows) {
    if (purpose && purpose !== 'debt' && ref && state !== 'done') refs.add(ref);
  }
  return refs.size;
}
