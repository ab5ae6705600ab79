/**
 * The plan of a chaos run, drawn from the seed before anything starts: what
 * customers, operators and the cloud do (workload) and which faults are
 * injected, each at an offset from the start. The same seed gives the same
 * plan; what the system makes of it depends on timing.
 */
import { cctalkDevices, type CctalkDevice } from './cctalk.js';
import type { ChaosOptions } from './options.js';
import { seeded, type Random } from './random.js';

export type Cash = 50 | 100 | 500 | 1000;
/** PM2 apps a fault may hit (cloud-sim is not run: the chaos run plays the cloud itself). */
export const chaosApps = ['hardware', 'business', 'mqtt', 'supervisor', 'dashboard'] as const;
export type ChaosApp = (typeof chaosApps)[number];

/** Codes the simulator can raise on request (coinerex sim fault): acceptor, dispenser and memory faults. */
export const simFaultCodes = [1, 11, 12, 13, 21, 22, 23, 41, 43] as const;

export type WorkAction =
  | { kind: 'exchange'; amount: Cash }
  | { kind: 'refill'; coins: number }
  | { kind: 'door'; open: boolean }
  | { kind: 'sim_fault'; code: number }
  | { kind: 'sim_clear'; code: number }
  | { kind: 'jam' }
  /** A signed remote dispense; `n` numbers the command (its id is derived from it). */
  | { kind: 'dispense'; n: number; coins: number }
  /** The cloud sends command `n` again, byte for byte, `copies` times. */
  | { kind: 'repeat'; n: number; copies: number }
  | { kind: 'lock'; n: number; minutes: number | null }
  | { kind: 'unlock'; n: number }
  /** A technician's round: whatever fault the simulator shows is cleared and the door shut (a clear may have been lost or come before its jam). */
  | { kind: 'service' };

export type FaultAction =
  /** `midPayout`: aimed at a moment a payout is out (a customer is brought in first), the window where money is at stake. */
  | { kind: 'kill9'; app: ChaosApp; midPayout: boolean }
  | { kind: 'pm2_restart'; app: ChaosApp }
  /** Broker down for `downMs`; customers keep coming (`burst`, to overflow the offline buffer); maybe an app dies meanwhile. */
  | { kind: 'broker_outage'; downMs: number; burst: Cash[]; killDuring: ChaosApp | null }
  /** redis-server kill -9, restarted from its AOF after `downMs`. */
  | { kind: 'redis_outage'; downMs: number; midPayout: boolean }
  /** A signed `restart` `soft` command: the supervisor restarts every agent app. */
  | { kind: 'soft_restart'; n: number }
  /** ccTalk: the host's adapter pulled for `downMs` (socat killed); the devices keep power. */
  | { kind: 'cable_pull'; downMs: number }
  /** ccTalk: one device silent for `downMs`; the hopper's motor runs on if it was paying. */
  | { kind: 'device_unplug'; device: CctalkDevice; downMs: number; midPayout: boolean }
  /** ccTalk: the hopper loses power (mid-payout when one comes out in time) and gets it back after `downMs`. */
  | { kind: 'hopper_powercut'; downMs: number }
  /** ccTalk: a device resets (counter 0, inhibited, hopper disabled). */
  | { kind: 'device_reset'; device: CctalkDevice }
  /** ccTalk: the next `n` replies on the bus are spoiled. */
  | { kind: 'hostile'; spoil: ChaosSpoil; n: number };

export type FaultKind = FaultAction['kind'];
export const faultKinds: readonly FaultKind[] = ['kill9', 'pm2_restart', 'broker_outage', 'redis_outage', 'soft_restart'];
/** Faults only ccTalk peripherals can have, on top of `faultKinds`. */
export const cctalkFaultKinds = ['cable_pull', 'device_unplug', 'hopper_powercut', 'device_reset', 'hostile'] as const satisfies readonly FaultKind[];
export type CctalkFaultKind = (typeof cctalkFaultKinds)[number];
/** Spoiled replies of the emulator's hostile mode; not `garbage`, which can form a valid reply by chance. */
export const chaosSpoils = ['badsum', 'truncate', 'noecho', 'late'] as const;
export type ChaosSpoil = (typeof chaosSpoils)[number];
/** Workload actions the ccTalk peripherals have no counterpart for (no door switch, no simulator faults). */
const simOnlyWork = (a: WorkAction): boolean => a.kind === 'door' || a.kind === 'sim_fault' || (a.kind === 'sim_clear' && a.code !== 41);

export interface Planned<A> {
  /** ms from the start of the chaos phase. */
  at: number;
  action: A;
}

export interface ChaosPlan {
  durationMs: number;
  work: Planned<WorkAction>[];
  faults: Planned<FaultAction>[];
  /** Commands numbered 1..commands. */
  commands: number;
}

const faultWeights: Readonly<Record<string, number>> = { kill9: 35, pm2_restart: 20, broker_outage: 20, redis_outage: 17, soft_restart: 8 };
/** ccTalk runs: half the faults are the peripherals'. */
const cctalkFaultWeights: Readonly<Record<string, number>> = { ...faultWeights, cable_pull: 15, device_unplug: 25, hopper_powercut: 20, device_reset: 15, hostile: 25 };
const appWeights: Record<ChaosApp, number> = { hardware: 25, business: 25, mqtt: 25, supervisor: 15, dashboard: 10 };
const cashWeights = { '50': 30, '100': 40, '500': 20, '1000': 10 } as const;
/** Per minute. */
const rates = { refill: 2, lock: 0.5, simFault: 0.8, jam: 0.4, door: 0.3, service: 2 } as const;

/** Offsets of a Poisson process of `perMinute` over [from, until) ms. */
function arrivals(r: Random, perMinute: number, until: number, from = 0): number[] {
  if (perMinute <= 0) return [];
  const out: number[] = [];
  for (let t = from + r.exp(60_000 / perMinute); t < until; t += r.exp(60_000 / perMinute)) out.push(Math.round(t));
  return out;
}

const cash = (r: Random): Cash => Number(r.weighted(cashWeights)) as Cash;

export function makePlan(o: Pick<ChaosOptions, 'minutes' | 'seed' | 'faultsPerMinute' | 'exchangesPerMinute' | 'dispensesPerMinute'> & Partial<Pick<ChaosOptions, 'hardware'>>): ChaosPlan {
  const cctalk = o.hardware === 'cctalk';
  const kinds: readonly FaultKind[] = cctalk ? [...faultKinds, ...cctalkFaultKinds] : faultKinds;
  const r = seeded(o.seed);
  const durationMs = Math.round(o.minutes * 60_000);
  const work: Planned<WorkAction>[] = [];
  let commands = 0;
  const add = (at: number, action: WorkAction) => at < durationMs && work.push({ at, action });

  for (const at of arrivals(r, o.exchangesPerMinute, durationMs)) add(at, { kind: 'exchange', amount: cash(r) });
  for (const at of arrivals(r, rates.refill, durationMs)) {
    const coins = r.int(300, 1_000);
    // Now and then a real maintenance visit: door open, refill, door shut.
    if (r.chance(0.25)) {
      add(at, { kind: 'door', open: true });
      add(at + 1_000, { kind: 'refill', coins });
      add(at + r.int(3_000, 10_000), { kind: 'door', open: false });
    } else add(at, { kind: 'refill', coins });
  }
  for (const at of arrivals(r, o.dispensesPerMinute, durationMs)) {
    const n = ++commands;
    add(at, { kind: 'dispense', n, coins: r.int(1, 40) });
    if (r.chance(0.05)) add(at, { kind: 'repeat', n, copies: 1 });
    if (r.chance(0.15)) add(at + r.int(5_000, 60_000), { kind: 'repeat', n, copies: r.int(1, 2) });
  }
  for (const at of arrivals(r, rates.lock, durationMs)) {
    const timed = r.chance(0.5);
    add(at, { kind: 'lock', n: ++commands, minutes: timed ? r.int(6, 24) / 60 : null });
    if (!timed) add(at + r.int(5_000, 25_000), { kind: 'unlock', n: ++commands });
  }
  for (const at of arrivals(r, rates.simFault, durationMs)) {
    const code = r.pick(simFaultCodes);
    add(at, { kind: 'sim_fault', code });
    add(at + r.int(3_000, 20_000), { kind: 'sim_clear', code });
  }
  for (const at of arrivals(r, rates.jam, durationMs)) {
    add(at, { kind: 'jam' });
    add(at + r.int(5_000, 15_000), { kind: 'sim_clear', code: 41 });
  }
  for (const at of arrivals(r, rates.service, durationMs)) add(at, { kind: 'service' });
  for (const at of arrivals(r, rates.door, durationMs)) {
    add(at, { kind: 'door', open: true });
    add(at + r.int(2_000, 10_000), { kind: 'door', open: false });
  }

  // Faults: every kind at least once when there are enough slots, then by weight; none in the last 5 s.
  const faultSpan = Math.max(0, durationMs - 5_000);
  let faultTimes = arrivals(r, o.faultsPerMinute, faultSpan, 2_000);
  if (o.faultsPerMinute > 0 && faultTimes.length < kinds.length) {
    // Too few arrivals to show every kind: spread one of each evenly instead.
    faultTimes = kinds.map((_, i) => Math.round(2_000 + ((faultSpan - 2_000) * i) / kinds.length));
  }
  const firstKinds = r.shuffle(kinds);
  let brokerOutages = 0;
  const faults: Planned<FaultAction>[] = faultTimes.map((at, i) => {
    const kind = firstKinds[i] ?? (r.weighted(cctalk ? cctalkFaultWeights : faultWeights) as FaultKind);
    const app = (): ChaosApp => r.weighted(appWeights);
    switch (kind) {
      case 'kill9':
        return { at, action: { kind, app: app(), midPayout: r.chance(0.5) } };
      case 'pm2_restart':
        return { at, action: { kind, app: app() } };
      case 'broker_outage': {
        // The first outage always brings a crowd, so every run overflows the offline buffer at least once.
        const crowd = brokerOutages++ === 0;
        const burst = crowd || r.chance(0.7) ? Array.from({ length: r.int(crowd ? 14 : 8, 20) }, () => cash(r)) : [];
        return { at, action: { kind, downMs: r.int(1_000, 15_000), burst, killDuring: r.chance(0.25) ? app() : null } };
      }
      case 'redis_outage':
        return { at, action: { kind, downMs: r.int(300, 5_000), midPayout: r.chance(0.5) } };
      case 'soft_restart':
        return { at, action: { kind, n: ++commands } };
      case 'cable_pull':
        return { at, action: { kind, downMs: r.int(500, 8_000) } };
      case 'device_unplug':
        return { at, action: { kind, device: r.pick(cctalkDevices), downMs: r.int(300, 6_000), midPayout: r.chance(0.5) } };
      case 'hopper_powercut':
        return { at, action: { kind, downMs: r.int(300, 5_000) } };
      case 'device_reset':
        return { at, action: { kind, device: r.pick(cctalkDevices) } };
      case 'hostile':
        return { at, action: { kind, spoil: r.pick(chaosSpoils), n: r.int(1, 8) } };
    }
  });

  work.sort((a, b) => a.at - b.at);
  return { durationMs, work: cctalk ? work.filter((w) => !simOnlyWork(w.action)) : work, faults, commands };
}

/** The id of planned command `n` in the run of `seed`. */
export const commandId = (seed: number, n: number | string): string => `CHAOS-${seed}-${n}`;
