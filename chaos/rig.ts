/**
 * Everything a chaos run stands on: a temp dir, the private broker and
 * Redis, the agent's apps under a private PM2, the cloud peer, the signing
 * key, and the harness's own connections (control queue, state reads).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { makeQueue, producerConnection, queueNames, type ControlJob, type QueueName } from '../queue/index.js';
import { freePort } from '../test/helpers/app-process.js';
import { cloudPeer, type CloudPeer } from '../test/helpers/cloud-peer.js';
import { testEnv, type TestEnv } from '../test/helpers/env.js';
import { startStack, type Pm2Stack } from '../test/helpers/pm2.js';
import { cctalkMachine, type CctalkMachine } from './cctalk.js';
import { CloudCommands, commandKeys } from './commands.js';
import { simMachine, type ChaosMachine } from './machine.js';
import type { ChaosOptions } from './options.js';
import { chaosApps } from './plan.js';
import { privateBroker, privateRedis, type PrivateBroker, type PrivateRedis } from '../test/helpers/private-services.js';

/** Bonus coins per inserted amount for the run; the invariants compute what each credit is owed from it. */
/** Coins in the ccTalk hopper at the start, at least: several minutes of 1000 bills without a refill. */
const CCTALK_MIN_INVENTORY = 20_000;

export const chaosBonusTable: Readonly<Record<string, number>> = { '500': 2, '1000': 5 };

export interface Rig {
  dir: string;
  env: TestEnv;
  broker: PrivateBroker;
  redis: PrivateRedis;
  stack: Pm2Stack;
  peer: CloudPeer;
  commands: CloudCommands;
  /** The harness's state connection: fails fast while Redis is down. */
  db: Redis;
  control: Queue<ControlJob>;
  /** The machine customers and operators act on, and its physical truth. */
  machine: ChaosMachine;
  /** The ccTalk peripherals, on a ccTalk run. */
  cctalk: CctalkMachine | null;
  /** Read-only handles on the agent's queues, for job counts. */
  queues: Record<QueueName, Queue>;
  /** Stops everything; keeps the temp dir (with the PM2 logs copied in) when asked. Resolves with the kept dir or null. */
  close(keep: boolean): Promise<string | null>;
}

/** How the agent's apps run: under a private PM2 (the chaos run) or as plain child processes (the crash-point tier). */
export type StartApps = (apps: string[], env: Record<string, string>) => Promise<Pm2Stack>;

export interface RigVariant {
  apps?: readonly string[];
  startApps?: StartApps;
  /** COINEREX_* settings on top of the chaos run's. */
  env?: Record<string, string>;
}

export async function startChaosRig(o: ChaosOptions, say: (line: string) => void, variant: RigVariant = {}): Promise<Rig> {
  const apps = variant.apps ?? chaosApps;
  const dir = await mkdtemp(join(tmpdir(), 'coinerex-chaos-'));
  const cleanups: Array<() => Promise<unknown>> = [];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const broker = await privateBroker(dir);
    await broker.start();
    cleanups.push(() => broker.stop());
    const redis = await privateRedis(dir);
    await redis.start();
    cleanups.push(() => redis.stop());
    say(`private mosquitto ${broker.url}, private redis ${redis.url} (${redis.confSource}), dir ${dir}`);

    // The books never learn of a ccTalk refill (docs/cctalk.md "Limits"): that hopper must never run dry.
    const cctalk = o.hardware === 'cctalk' ? await cctalkMachine(dir, Math.max(o.initialInventory, CCTALK_MIN_INVENTORY)) : null;
    if (cctalk) {
      cleanups.push(() => cctalk.close());
      say(`ccTalk emulator on ${cctalk.pty.boardPath}, the agent's driver on ${cctalk.pty.agentPath}`);
    }

    const keys = await commandKeys(dir);
    const env = testEnv({
      COINEREX_REDIS_URL: redis.url,
      COINEREX_MQTT_URL: broker.url,
      COINEREX_LOG_LEVEL: o.logLevel,
      COINEREX_LOG_PRETTY: '0',
      COINEREX_COMMAND_PUBLIC_KEY: keys.publicKeyPath,
      COINEREX_SIM_INVENTORY: String(o.initialInventory),
      // Slow enough that a kill often lands mid-payout, fast enough for 100-coin payouts.
      COINEREX_SIM_PAYOUT_MS: '10',
      COINEREX_SIM_CUSTOMERS_PER_MINUTE: '0',
      COINEREX_OFFLINE_LIMIT: String(o.offlineLimit),
      // Short gaps so the run settles quickly; the last wait gives up after 22 s connected without an ACK.
      COINEREX_RETRY_SCHEDULE: '2,4,8,8',
      COINEREX_MQTT_KEEPALIVE: '5',
      COINEREX_MQTT_RECONNECT_MAX_MS: '2000',
      COINEREX_HEARTBEAT_SECONDS: '20',
      COINEREX_STATUS_SECONDS: '60',
      COINEREX_BONUS_TABLE: JSON.stringify(chaosBonusTable),
      COINEREX_DISPENSE_MAX_PER_COMMAND: '200',
      COINEREX_DISPENSE_MAX_PER_DAY: '1000000',
      COINEREX_DASHBOARD_PORT: String(await freePort()),
      ...cctalk?.env,
      ...variant.env,
    });

    const peer = await cloudPeer(env.deviceId, { url: broker.url });
    cleanups.push(() => peer.close());
    const db = producerConnection(redis.url, 'chaos:state');
    db.on('error', () => undefined);
    cleanups.push(async () => db.disconnect());
    const controlConnection = producerConnection(redis.url, 'chaos:control');
    controlConnection.on('error', () => undefined);
    cleanups.push(async () => controlConnection.disconnect());
    const control = makeQueue<ControlJob>(queueNames.control, controlConnection, env.keys.bullPrefix);
    const queues = Object.fromEntries(Object.values(queueNames).map((n) => [n, makeQueue(n, db, env.keys.bullPrefix)])) as Record<QueueName, Queue>;
    cleanups.push(() => Promise.all([control, ...Object.values(queues)].map((q) => q.close())));

    say(`starting ${apps.join(', ')} for device ${env.deviceId}`);
    const stack = await (variant.startApps ?? startStack)([...apps], env.env);
    cleanups.push(() => stack.destroy());

    let closing: Promise<string | null> | undefined;
    return {
      dir,
      env,
      broker,
      redis,
      stack,
      peer,
      commands: new CloudCommands(peer, keys),
      db,
      control,
      machine: cctalk ?? simMachine(control, db, env.keys),
      cctalk,
      queues,
      close(keep) {
        closing ??= (async () => {
          if (keep) await cp(join(stack.home, 'logs'), join(dir, 'pm2-logs'), { recursive: true }).catch(() => undefined);
          await undo();
          if (keep) return dir;
          await rm(dir, { recursive: true, force: true });
          return null;
        })();
        return closing;
      },
    };
  } catch (err) {
    await undo();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
