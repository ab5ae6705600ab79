/** Flags of `npm run chaos -- …`, validated into ChaosOptions. */
import { parseArgs } from 'node:util';
import { UsageError } from '../shared/errors.js';
import type { ChaosHardware } from './machine.js';

export interface ChaosOptions {
  /** The machine: the built-in simulator, or ccTalk peripherals (the ccTalk emulator on a pty). */
  hardware: ChaosHardware;
  /** Length of the chaos phase (traffic and faults), minutes. Settling and checking come on top. */
  minutes: number;
  /** Seed of the plan: the same seed gives the same actions and faults at the same offsets. */
  seed: number;
  /** Mean rate of injected faults. */
  faultsPerMinute: number;
  /** Mean rate of single customer exchanges (bursts during broker outages come on top). */
  exchangesPerMinute: number;
  /** Mean rate of signed remote dispenses. */
  dispensesPerMinute: number;
  /** The device's offline buffer (COINEREX_OFFLINE_LIMIT): small, so outages with bursts overflow it. */
  offlineLimit: number;
  /** Coins in the hopper at the first start (COINEREX_SIM_INVENTORY): small, for hopper-empty episodes. */
  initialInventory: number;
  /** How long the system may take to settle after the chaos phase, seconds. */
  settleSeconds: number;
  /** Where the JSON report goes; '' = nowhere. */
  out: string;
  /** The apps' log level; the mqtt app's overflow warnings must stay visible. */
  logLevel: 'debug' | 'info' | 'warn';
  /** Keep the temp dir (PM2 logs, Redis AOF) even when every invariant held. */
  keep: boolean;
}

export const defaultOptions: ChaosOptions = {
  hardware: 'sim',
  minutes: 2,
  seed: 0,
  faultsPerMinute: 4,
  exchangesPerMinute: 30,
  dispensesPerMinute: 3,
  offlineLimit: 6,
  initialInventory: 400,
  settleSeconds: 120,
  out: 'chaos-report.json',
  logLevel: 'info',
  keep: false,
};

export const usage = `usage: npm run chaos -- [options]
  --hardware H             sim or cctalk (default ${defaultOptions.hardware})
  --minutes N              length of the chaos phase (default ${defaultOptions.minutes}; the long run is --minutes 35)
  --seed S                 reproduce a run (default: random, printed)
  --faults-per-minute F    injected faults (default ${defaultOptions.faultsPerMinute})
  --exchanges-per-minute E customer exchanges (default ${defaultOptions.exchangesPerMinute})
  --dispenses-per-minute D signed remote dispenses (default ${defaultOptions.dispensesPerMinute})
  --offline-limit L        device offline buffer (default ${defaultOptions.offlineLimit})
  --inventory C            hopper coins at first start (default ${defaultOptions.initialInventory}; ccTalk: at least 20000)
  --settle-seconds T       time allowed to settle before checking (default ${defaultOptions.settleSeconds})
  --out FILE               JSON report (default ${defaultOptions.out}; '' for none)
  --log-level L            debug|info|warn for the apps (default ${defaultOptions.logLevel})
  --keep                   keep the temp dir with PM2 logs and the Redis AOF`;

function positive(name: string, raw: string | undefined, fallback: number, { integer = false, min = 0 } = {}): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new UsageError(`--${name}: expected ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${raw}"`);
  }
  return v;
}

/** Parses argv (without node and script); `randomSeed` is used when --seed is absent. */
export function parseOptions(argv: string[], randomSeed: () => number): ChaosOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        hardware: { type: 'string' },
        minutes: { type: 'string' },
        seed: { type: 'string' },
        'faults-per-minute': { type: 'string' },
        'exchanges-per-minute': { type: 'string' },
        'dispenses-per-minute': { type: 'string' },
        'offline-limit': { type: 'string' },
        inventory: { type: 'string' },
        'settle-seconds': { type: 'string' },
        out: { type: 'string' },
        'log-level': { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const logLevel = v['log-level'] ?? defaultOptions.logLevel;
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn') throw new UsageError(`--log-level: expected debug, info or warn, got "${logLevel}"`);
  const hardware = v.hardware ?? defaultOptions.hardware;
  if (hardware !== 'sim' && hardware !== 'cctalk') throw new UsageError(`--hardware: expected sim or cctalk, got "${hardware}"`);
  const d = defaultOptions;
  return {
    hardware,
    minutes: positive('minutes', v.minutes, d.minutes, { min: 0.1 }),
    seed: positive('seed', v.seed, randomSeed(), { integer: true }) >>> 0,
    faultsPerMinute: positive('faults-per-minute', v['faults-per-minute'], d.faultsPerMinute),
    exchangesPerMinute: positive('exchanges-per-minute', v['exchanges-per-minute'], d.exchangesPerMinute),
    dispensesPerMinute: positive('dispenses-per-minute', v['dispenses-per-minute'], d.dispensesPerMinute),
    offlineLimit: positive('offline-limit', v['offline-limit'], d.offlineLimit, { integer: true, min: 1 }),
    initialInventory: positive('inventory', v.inventory, d.initialInventory, { integer: true }),
    settleSeconds: positive('settle-seconds', v['settle-seconds'], d.settleSeconds, { min: 10 }),
    out: v.out ?? d.out,
    logLevel,
    keep: v.keep ?? false,
  };
}
