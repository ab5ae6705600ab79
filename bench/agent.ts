/**
 * The agent under test: the production profile of ecosystem.config.js under
 * an isolated PM2, on the benchmark's private Redis and broker, with the
 * simulator as hardware, a command-verification key, and a cloud peer that
 * ACKs everything. Exchanges are started through the `control` queue, as
 * `coinerex sim bill 100` does.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisKeys, type RedisKeys } from '../shared/keys.js';
import { readDeliveryStats, type DeliveryStats } from '../shared/delivery-state.js';
import { allQueueNames, makeQueue, producerConnection, queueNames, type ControlJob } from '../queue/index.js';
import { cloudPeer, type CloudPeer } from '../test/helpers/cloud-peer.js';
import { waitFor } from '../test/helpers/env.js';
import { startStack, type Pm2Stack } from '../test/helpers/pm2.js';
import type { Services } from './services.js';

export const AGENT_APPS = ['hardware', 'business', 'mqtt', 'supervisor'] as const;
/** The simulator's inventory cap (COINEREX_SIM_INVENTORY) and the largest single refill. */
const FULL_HOPPER = 100_000;

export interface Agent {
  deviceId: string;
  keys: RedisKeys;
  stack: Pm2Stack;
  redis: Redis;
  /** Replaced when the broker restarts (drain section). */
  peer: CloudPeer;
  /** Epoch ms of `pm2 start` → the cloud peer's receipt of the first heartbeat. */
  startToHeartbeatMs: number;
  /** When PM2 launched each app, ms after `pm2 start` (were they started one after the other?). */
  launchedAfterMs: Record<string, number>;
  /** One bill of 100 NTD: an exchange of 10 coins. */
  insertBill(): Promise<unknown>;
  deliveryStats(): Promise<DeliveryStats>;
  /** Refills the simulated hopper when fewer than `atLeast` coins are left (no exchange may run short). */
  topUp(atLeast: number): Promise<void>;
  /**
   * Waits until nothing is in flight: no queued job, unsent, buffered or
   * unACKed message, no pending hardware event. False (and a warning) when
   * the agent is still busy after `timeoutMs`: the run goes on, measured as it is.
   */
  settle(timeoutMs?: number): Promise<boolean>;
  /** Pids of the four apps, the PM2 daemon and Redis. */
  processes(): Promise<Record<string, number>>;
  newPeer(): Promise<CloudPeer>;
  close(): Promise<void>;
}

export async function startBenchAgent(services: Services, extraEnv: Record<string, string> = {}): Promise<Agent> {
  const deviceId = `BENCH_${process.pid}`;
  const prefix = 'bench';
  const keys = redisKeys(prefix, deviceId);
  // Commands must be signed (production): forged ones are what the flood section sends.
  const { publicKey } = generateKeyPairSync('ed25519');
  const publicKeyPath = join(services.dir, 'command-public.pem');
  await writeFile(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o600 });
  const env: Record<string, string> = {
    COINEREX_DEVICE_ID: deviceId,
    COINEREX_REDIS_URL: services.redis.url,
    COINEREX_REDIS_PREFIX: prefix,
    COINEREX_MQTT_URL: services.broker.url,
    COINEREX_HARDWARE: 'sim',
    COINEREX_SIM_PAYOUT_MS: '0',
    COINEREX_SIM_INVENTORY: String(FULL_HOPPER),
    COINEREX_SIM_CUSTOMERS_PER_MINUTE: '0',
    COINEREX_TIMESTAMP_FORMAT: 'iso8601',
    COINEREX_COMMAND_PUBLIC_KEY: publicKeyPath,
    // The production default, stated, so a run does not depend on the config default.
    COINEREX_HEARTBEAT_SECONDS: '300',
    COINEREX_LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const redis = producerConnection(services.redis.url, 'bench');
  redis.on('error', () => undefined);
  const control: Queue<ControlJob> = makeQueue<ControlJob>(queueNames.control, redis, keys.bullPrefix);
  const queues = allQueueNames.map((name) => (name === queueNames.control ? control : makeQueue(name, redis, keys.bullPrefix)));
  const queued = async () => {
    const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'prioritized')));
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };
  const newPeer = () => cloudPeer(deviceId, { url: services.broker.url });
  const agent: Agent = {
    deviceId,
    keys,
    redis,
    peer: await newPeer(),
    stack: undefined as unknown as Pm2Stack,
    startToHeartbeatMs: NaN,
    launchedAfterMs: {},
    insertBill: () => control.add('bill', { action: 'bill', amount: 100 }),
    deliveryStats: () => readDeliveryStats(redis, keys),
    async topUp(atLeast) {
      const inventory = Number((await redis.hget(keys.machine, 'inventory')) ?? 0);
      if (inventory >= atLeast) return;
      await control.add('refill', { action: 'refill', coins: Math.min(FULL_HOPPER, FULL_HOPPER - inventory) || 1 });
      await waitFor(async () => Number((await redis.hget(keys.machine, 'inventory')) ?? 0) >= atLeast, 10_000, 'refill applied');
    },
    async settle(timeoutMs = 120_000) {
      return waitFor(
        async () => {
          const [s, unsent, hw, jobs] = await Promise.all([readDeliveryStats(redis, keys), redis.llen(keys.unsent), redis.llen(keys.hwPending), queued()]);
          return s.pending === 0 && s.buffered === 0 && unsent === 0 && hw === 0 && jobs === 0;
        },
        timeoutMs,
        'agent settled',
        50,
      ).catch(() => {
        process.stdout.write(`bench: warning: the agent is still busy after ${timeoutMs / 1000} s; going on\n`);
        return false;
      });
    },
    async processes() {
      const out: Record<string, number> = {};
      for (const p of await agent.stack.list()) out[p.name] = p.pid;
      out['pm2 daemon'] = Number(readFileSync(join(agent.stack.home, 'pm2.pid'), 'utf8').trim());
      out.redis = services.redis.pid ?? 0;
      return out;
    },
    newPeer,
    async close() {
      await agent.stack?.destroy();
      await agent.peer.close().catch(() => undefined);
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
      redis.disconnect();
    },
  };
  const t0 = Date.now();
  try {
    agent.stack = await startStack([...AGENT_APPS], env, 'production');
    const hb = await agent.peer.waitFor((r) => r.type === 'heartbeat', 30_000, 'first heartbeat');
    agent.startToHeartbeatMs = hb.at - t0;
    const apps = JSON.parse(await agent.stack.pm2('jlist')) as Array<{ name: string; pm2_env: { pm_uptime: number } }>;
    for (const a of apps) agent.launchedAfterMs[a.name] = a.pm2_env.pm_uptime - t0;
  } catch (err) {
    await agent.close();
    throw err;
  }
  return agent;
}
