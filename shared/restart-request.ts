/**
 * Restart requests: the business app's `restart` command (docs/protocol.md#restart)
 * pushes one onto `keys.restartRequests` after publishing its result; the
 * supervisor pops and carries it out through PM2 (soft) or systemd (hard).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RedisKeys } from './keys.js';

export const restartRequestSchema = z.object({
  requestId: z.string().min(1).max(200),
  /** Epoch ms the request was made. */
  at: z.number().int().nonnegative(),
  reason: z.string().max(1000).nullable().optional(),
  /** `soft` restarts the agent's apps; `hard` reboots the board (only when COINEREX_ALLOW_HARD_RESTART=1). */
  type: z.enum(['soft', 'hard']).default('soft'),
  /** The `restart` command that asked for it, for the logs. */
  commandId: z.string().max(200).optional(),
});
export type RestartRequest = z.infer<typeof restartRequestSchema>;

export async function pushRestartRequest(redis: Redis, keys: RedisKeys, request: z.input<typeof restartRequestSchema>): Promise<void> {
  await redis.rpush(keys.restartRequests, JSON.stringify(restartRequestSchema.parse(request)));
}
