/**
 * Health of the agent's processes as other apps and the CLI read it:
 * liveness beats (every app beats through shared/app-runner.ts), the
 * supervisor's per-app record from PM2 (`keys.appsHealth`), and the broker
 * link as the mqtt app sees it (`keys.mqttLink`).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RedisKeys } from './keys.js';

/** The apps that make up a running agent; every one must be alive for the agent to be healthy. */
export const agentApps = ['hardware', 'business', 'mqtt', 'supervisor'] as const;
/** Every PM2 app of ecosystem.config.js (the demo profile adds the last two). */
export const ecosystemApps = [...agentApps, 'dashboard', 'cloud-sim'] as const;

export const appHealthSchema = z.object({
  name: z.string(),
  /** PM2 status: online, stopping, stopped, launching, errored, one-launch-status. */
  status: z.string(),
  pid: z.number().int().nullable(),
  /** Epoch ms of the process's last (re)start (PM2 `pm_uptime`). */
  startedAt: z.number().nullable(),
  /** Restarts PM2 has done for any reason (crash, memory limit, watchdog, operator). */
  pm2Restarts: z.number().int().nonnegative(),
  /** Restarts the supervisor's watchdog has done because the app stopped beating. */
  watchdogRestarts: z.number().int().nonnegative(),
  memoryBytes: z.number().nonnegative().nullable(),
  cpuPercent: z.number().nonnegative().nullable(),
  /** Epoch ms of the app's last liveness beat (readAppsHealth: the current beat, not the record's). */
  lastBeatAt: z.number().nullable(),
  /** Epoch ms the supervisor wrote this record (it rewrites an unchanged one only now and then: healthChanged). */
  updatedAt: z.number(),
});
export type AppHealth = z.infer<typeof appHealthSchema>;

/** Replaces the whole record set; it expires when the supervisor stops writing it, so readers never show stale data as current. */
export async function writeAppsHealth(redis: Redis, keys: RedisKeys, apps: AppHealth[], ttlMs: number): Promise<void> {
  const m = redis.multi().del(keys.appsHealth);
  if (apps.length > 0) m.hset(keys.appsHealth, Object.fromEntries(apps.map((a) => [a.name, JSON.stringify(a)]))).pexpire(keys.appsHealth, ttlMs);
  await m.exec();
}

/**
 * Whether `next` says something `prev` does not, apart from what moves on every
 * tick (the beat, memory, CPU, the time of writing): every write of the record
 * costs an fsync, so an unchanged one is rewritten only to renew it.
 */
export function healthChanged(prev: readonly AppHealth[], next: readonly AppHealth[]): boolean {
  const stable = (a: AppHealth) => JSON.stringify([a.name, a.status, a.pid, a.startedAt, a.pm2Restarts, a.watchdogRestarts]);
  return prev.length !== next.length || prev.some((a, i) => stable(a) !== stable(next[i]!));
}

/** The supervisor's records, by app name order of `ecosystemApps`, with each app's current beat; empty when the supervisor is not reporting. */
export async function readAppsHealth(redis: Redis, keys: RedisKeys): Promise<AppHealth[]> {
  const raw = await redis.hgetall(keys.appsHealth);
  const beats = await readLiveness(redis, keys, Object.keys(raw));
  const out: AppHealth[] = [];
  for (const value of Object.values(raw)) {
    try {
      const parsed = appHealthSchema.safeParse(JSON.parse(value));
      if (parsed.success) out.push({ ...parsed.data, lastBeatAt: beats.get(parsed.data.name) ?? parsed.data.lastBeatAt });
    } catch {
      // A malformed record is skipped rather than crash a reader.
    }
  }
  const rank = (n: string) => {
    const i = (ecosystemApps as readonly string[]).indexOf(n);
    return i < 0 ? ecosystemApps.length : i;
  };
  return out.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/**
 * A liveness beat costs no write (issue 14: a SET was an fsync of the SD card
 * every beat): the app names its runner connection `<base>:live:<app>:<epoch ms>`
 * with CLIENT SETNAME, which Redis does not write to the AOF, and readers find
 * the name in CLIENT LIST. It proves what the SET did (the app's event loop runs
 * and reaches Redis) and lives as long as the connection: an app that died
 * has no beat, one that hangs keeps its last.
 */
const beatStem = (keys: RedisKeys, app: string) => `${keys.base}:live:${app}:`;

export async function beat(redis: Redis, keys: RedisKeys, app: string, at: number): Promise<void> {
  const name = `${beatStem(keys, app)}${at}`;
  // ioredis names the connection it makes after a reconnect with this option: the last beat outlives a Redis restart.
  redis.options.connectionName = name;
  await redis.client('SETNAME', name);
}

/** Epoch ms of each app's last liveness beat, null when no connection of it carries one (never beat, or died). */
export async function readLiveness(redis: Redis, keys: RedisKeys, apps: readonly string[]): Promise<Map<string, number | null>> {
  const beats = new Map<string, number | null>(apps.map((a) => [a, null]));
  if (apps.length === 0) return beats;
  const list = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal'));
  for (const [, name] of list.matchAll(/(?:^| )name=(\S+)/gm)) {
    for (const app of apps) {
      const stem = beatStem(keys, app);
      const at = name!.startsWith(stem) ? Number(name!.slice(stem.length)) : NaN;
      // Two connections carry a beat while a restarted app's old one has not closed yet: the later counts.
      if (Number.isSafeInteger(at)) beats.set(app, Math.max(at, beats.get(app) ?? -Infinity));
    }
  }
  return beats;
}

export interface MqttLinkState {
  connected: boolean;
  /** Epoch ms of the last change of `connected`. */
  since: number | null;
}

/** For the mqtt app: call on every change of the broker link (connect, close, offline). */
export async function setMqttLink(redis: Redis, keys: RedisKeys, connected: boolean, at: number): Promise<void> {
  await redis.hset(keys.mqttLink, { connected: connected ? '1' : '0', since: String(at) });
}

/** The broker link as the mqtt app last reported it; null when it never did. */
export async function readMqttLink(redis: Redis, keys: RedisKeys): Promise<MqttLinkState | null> {
  const h = await redis.hgetall(keys.mqttLink);
  if (h.connected === undefined) return null;
  const since = Number(h.since);
  return { connected: h.connected === '1', since: Number.isFinite(since) && h.since !== '' ? since : null };
}
