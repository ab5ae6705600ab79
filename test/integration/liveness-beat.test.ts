/**
 * A liveness beat writes nothing to the AOF (issue 14: a SET per beat was an
 * fsync of the SD card every 10 s per app), yet readers see every beat, the
 * last beat outlives a reconnect, and an app whose connection closed (it
 * died) has no beat. Against a private Redis with the shipped persistence,
 * whose AOF size is read after each step.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { beat, readLiveness } from '../../shared/app-health.js';
import { workerConnection } from '../../shared/redis.js';
import { testEnv, waitFor } from '../helpers/env.js';
import { privateRedis, type PrivateRedis } from '../helpers/private-services.js';

const dir = mkdtempSync(join(tmpdir(), 'coinerex-liveness-'));
const env = testEnv();
let server: PrivateRedis;
let reader: Redis;

const aofSize = async () => Number(/aof_current_size:(\d+)/.exec(await reader.info('persistence'))?.[1]);

test.before(async () => {
  server = await privateRedis(dir);
  await server.start();
  reader = new Redis(server.url, { protocol: 2 });
});

test.after.always(async () => {
  reader?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('beats are seen by readers and add nothing to the AOF; a SET would', async (t) => {
  t.is((await server.settings()).appendonly, 'yes');
  const app = workerConnection(server.url, `${env.deviceId}:hardware`);
  t.teardown(() => app.disconnect());
  await app.ping();
  const before = await aofSize();
  t.true(Number.isFinite(before));

  const t0 = Date.now();
  for (let i = 0; i < 5; i++) {
    await beat(app, env.keys, 'hardware', t0 + i * 1000);
    t.is((await readLiveness(reader, env.keys, ['hardware', 'business'])).get('hardware'), t0 + i * 1000);
  }
  t.is((await readLiveness(reader, env.keys, ['business'])).get('business'), null, 'an app that never beat');
  t.is(await aofSize(), before, 'a beat reached the AOF');

  // The measure moves with a write, so an unchanged size is not an accident of the reading.
  await app.set(`${env.keys.base}:probe`, '1');
  t.true((await aofSize()) > before);
});

test.serial('the last beat outlives a reconnect; a closed connection (a dead app) has none', async (t) => {
  const app = workerConnection(server.url, `${env.deviceId}:mqtt`);
  t.teardown(() => app.disconnect());
  const at = Date.now();
  await beat(app, env.keys, 'mqtt', at);
  const id = await app.client('ID');
  await reader.client('KILL', 'ID', String(id));
  await waitFor(async () => (await app.client('ID')) !== id, 10_000, 'reconnected');
  t.is((await readLiveness(reader, env.keys, ['mqtt'])).get('mqtt'), at);

  // Another device's beat (another test's) is not this one's.
  const other = testEnv();
  const stranger = workerConnection(server.url, `${other.deviceId}:mqtt`);
  t.teardown(() => stranger.disconnect());
  await beat(stranger, other.keys, 'mqtt', at + 5_000);
  t.is((await readLiveness(reader, env.keys, ['mqtt'])).get('mqtt'), at);

  await app.quit();
  await waitFor(async () => (await readLiveness(reader, env.keys, ['mqtt'])).get('mqtt') === null, 5_000, 'beat gone with the connection');
  t.pass();
});
