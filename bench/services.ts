/**
 * A private Mosquitto and a private Redis for the benchmark (the tests' own,
 * test/helpers/private-services.ts), so other tests on the shared services
 * do not disturb the measurement (and the benchmark does not disturb them).
 * Redis runs with the shipped persistence (deploy/redis.conf: AOF, fsync per
 * write) on the temp dir's disk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateBroker, privateRedis, type PrivateBroker, type PrivateRedis, type PrivateRedisOptions } from '../test/helpers/private-services.js';

export interface Services {
  dir: string;
  broker: PrivateBroker;
  redis: PrivateRedis;
  close(): Promise<void>;
}

export async function startServices(o: PrivateRedisOptions = {}): Promise<Services> {
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-bench-'));
  const broker = await privateBroker(dir);
  const redis = await privateRedis(dir, o);
  await broker.start();
  await redis.start();
  return {
    dir,
    broker,
    redis,
    async close() {
      await broker.stop();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
