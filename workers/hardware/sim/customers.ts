/**
 * Simulated customers for the demo profile: arrivals at random (a Poisson
 * process at `perMinute`), each inserting one bill or coin with the mix of a
 * coin-exchange machine: mostly 100s, some 50 coins and 500s, few 1000s.
 */
import type { Logger } from 'pino';
import type { Cash } from './actions.js';

/** Share of customers by what they insert. */
export const denominationMix: ReadonlyArray<readonly [Cash, number]> = [
  [100, 0.6],
  [50, 0.2],
  [500, 0.15],
  [1000, 0.05],
];

/** The denomination for a uniform random number in [0, 1). */
export function pickDenomination(r: number): Cash {
  let acc = 0;
  for (const [amount, share] of denominationMix) {
    acc += share;
    if (r < acc) return amount;
  }
  return denominationMix[0]![0];
}

/** Wait until the next customer, ms: exponential with mean 60 000 / perMinute. */
export function nextArrivalMs(perMinute: number, r: number): number {
  return (-Math.log(1 - r) * 60_000) / perMinute;
}

export interface CustomerOptions {
  perMinute: number;
  insert: (amount: Cash) => Promise<unknown>;
  log: Logger;
  /** Uniform [0, 1). Default Math.random. */
  random?: () => number;
}

export class CustomerGenerator {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly random: () => number;

  constructor(private readonly opts: CustomerOptions) {
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.opts.perMinute <= 0) return;
    this.opts.log.info({ perMinute: this.opts.perMinute }, 'simulated customers on');
    this.schedule();
  }

  /** No new customer; waits for the one inserting now. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const amount = pickDenomination(this.random());
      this.inFlight = this.opts
        .insert(amount)
        .catch((err: unknown) => this.opts.log.warn({ err, amount }, 'simulated customer could not insert'))
        .finally(() => this.schedule());
    }, nextArrivalMs(this.opts.perMinute, this.random()));
  }
}
