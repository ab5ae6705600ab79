/**
 * The agent under PM2 with a cloud peer on the broker and a Redis connection
 * to read its state: the setup of end-to-end tests that talk to the device
 * over MQTT. Ready once the device's first heartbeat has arrived.
 */
import { Redis } from 'ioredis';
import { cloudPeer, type CloudPeer, type Received } from './cloud-peer.js';
import { cleanupRedis, REDIS_URL, waitFor, type TestEnv } from './env.js';
import { startStack, type Pm2Stack } from './pm2.js';

export interface AgentUnderTest {
  stack: Pm2Stack;
  peer: CloudPeer;
  redis: Redis;
  /** Stops the apps, closes the connections and deletes the test's keys. */
  close(): Promise<void>;
}

export async function startPm2Agent(apps: string[], env: TestEnv): Promise<AgentUnderTest> {
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  let peer: CloudPeer | undefined;
  let stack: Pm2Stack | undefined;
  const close = async () => {
    await stack?.destroy();
    await peer?.close();
    redis.disconnect();
    await cleanupRedis(env.prefix);
  };
  try {
    peer = await cloudPeer(env.deviceId);
    stack = await startStack(apps, env.env);
    // The agent is on the broker once its first heartbeat arrives.
    await peer.waitFor((r) => r.type === 'heartbeat', 20_000, 'first heartbeat');
    return { stack, peer, redis, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Runs `publish` and resolves with the next result for command `id` (earlier results of the same id do not count). */
export async function resultOf(peer: CloudPeer, id: string, publish: () => Promise<void>, timeoutMs = 20_000): Promise<Received['payload']> {
  const results = () => peer.of('command_result').filter((r) => r.payload?.ack_command_id === id);
  const seen = results().length;
  await publish();
  const all = await waitFor(() => (results().length > seen ? results() : null), timeoutMs, `result of ${id}`);
  return all.at(-1)!.payload;
}
