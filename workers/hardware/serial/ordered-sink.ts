import type { HwEvent } from '../../../queue/jobs.js';
import { DriverError, type EventSink } from '../driver.js';

/** Hands events to the driver's one sink one at a time, in the order they came (docs/board-link.md §5). */
export class OrderedSink {
  private sink: EventSink | null = null;
  private chain: Promise<void> = Promise.resolve();

  register(fn: EventSink): void {
    this.sink = fn;
  }

  /** Settles with this event's delivery, after every earlier one settled. */
  deliver(event: HwEvent): Promise<void> {
    const run = this.chain.then(async () => {
      if (!this.sink) throw new DriverError('INVALID', 'no event sink registered');
      await this.sink(event);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every event handed in so far has settled. */
  drained(): Promise<void> {
    return this.chain;
  }
}
