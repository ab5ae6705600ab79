/**
 * What Redis writes to the SD card: fsync calls (strace attached to every
 * thread of redis-server, counting fsync and fdatasync; strace slows the
 * calls it traces, so no timing is taken while it runs) and AOF bytes
 * (`aof_current_size` from INFO persistence).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

export interface SdCardCount {
  /** null when strace is not installed (`apt-get install strace`). */
  fsyncs: number | null;
  aofBytes: number;
}

export interface SdCardCounter {
  stop(): Promise<SdCardCount>;
}

export const straceAvailable = (): boolean => spawnSync('strace', ['-V']).status === 0;

async function aofSize(redis: Redis): Promise<number> {
  return Number(/^aof_current_size:(\d+)/m.exec(await redis.info('persistence'))?.[1] ?? NaN);
}

/** Starts counting; `stop()` returns what Redis wrote since. */
export async function countSdCardWrites(redis: Redis, redisPid: number): Promise<SdCardCounter> {
  const aof0 = await aofSize(redis);
  if (!straceAvailable()) {
    return { stop: async () => ({ fsyncs: null, aofBytes: (await aofSize(redis)) - aof0 }) };
  }
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-strace-'));
  const out = join(dir, 'summary.txt');
  const strace = spawn('strace', ['-f', '-qq', '-c', '-e', 'trace=fsync,fdatasync', '-p', String(redisPid), '-o', out], { stdio: 'ignore' });
  // strace attaches asynchronously; a write before it has would go uncounted.
  await new Promise((r) => setTimeout(r, 300));
  return {
    async stop() {
      const aofBytes = (await aofSize(redis)) - aof0;
      const exited = new Promise((r) => strace.once('exit', r));
      strace.kill('SIGINT');
      await exited;
      const text = await readFile(out, 'utf8').catch(() => '');
      await rm(dir, { recursive: true, force: true });
      const calls = [...text.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)\s*$/gm)].reduce((s, m) => s + Number(m[1]), 0);
      return { fsyncs: calls, aofBytes };
    },
  };
}
