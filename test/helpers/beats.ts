/**
 * Liveness beats of apps a test does not run: one connection per app, named
 * as the app runner names its own (shared/app-health.ts), so a beat is set to
 * any time, made stale by not beating, and ended by `die` as an app's dies.
 */
import { Redis } from 'ioredis';
import { beat } from '../../shared/app-health.js';
import type { RedisKeys } from '../../shared/keys.js';

export interface FakeBeats {
  beat(apps: readonly string[], at?: number): Promise<void>;
  /** The app's connection closes, as when its process dies: it has no beat any more. */
  die(app: string): Promise<void>;
  close(): void;
}

export function fakeBeats(url: string, keys: RedisKeys): FakeBeats {
  const connections = new Map<string, Redis>();
  const connectionOf = (app: string) => {
    let c = connections.get(app);
    if (!c) {
      c = new Redis(url, { protocol: 2 });
      c.on('error', () => undefined);
      connections.set(app, c);
    }
    return c;
  };
  return {
    async beat(apps, at = Date.now()) {
      await Promise.all(apps.map((a) => beat(connectionOf(a), keys, a, at)));
    },
    async die(app) {
      await connections.get(app)?.quit();
      connections.delete(app);
    },
    close() {
      for (const c of connections.values()) c.disconnect();
      connections.clear();
    },
  };
}
