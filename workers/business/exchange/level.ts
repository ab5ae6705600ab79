/**
 * The hopper's absolute level on the books. A level the hardware counted
 * already has every coin that left the hopper out, those in doubt too
 * (error 51): the doubt's `unseen` (coins in doubt no level has counted
 * since) drops to 0 in the same write, so a later "the coins were paid"
 * decision does not take them off the level a second time (doubt.ts).
 */
import type { RedisKeys } from '../../../shared/keys.js';
import type { Plan } from '../store/plan.js';

export function writeLevel(plan: Plan, keys: RedisKeys, coins: number): Plan {
  return plan.hset(keys.machine, { inventory: coins }).hsetIfExists(keys.debtDoubt, 'unseen', 0);
}
