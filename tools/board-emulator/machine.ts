/**
 * The emulated machine behind the board: bill validator, coin acceptor,
 * hopper with an inventory, door and fault flags, and the payout runner.
 * Every change is saved before anything is sent about it, so a kill never
 * produces an event or an answer the board then forgets.
 */
import { billAmounts, coinAmounts } from '../../shared/cash.js';
import { MAX_PAYLOAD } from '../../shared/board-link/frame.js';
import {
  MAX_PAYOUT_ID_BYTES,
  type BoardEvent,
  type Message,
  type PayoutRecord,
  type StatusReply,
} from '../../shared/board-link/messages.js';
import type { PayoutEndReason } from '../../shared/physical-truth.js';
import { MAX_PAYOUTS, type BoardState, type PendingEvent } from './state.js';

export interface MachineOptions {
  /** Time per coin paid, ms. */
  coinMs: number;
  /** Hopper low-level sensor trips below this many coins. */
  lowLevel: number;
  /** Persists the state (fsync'd). */
  save(state: BoardState): void;
  /** A new event is pending: the endpoint should send it when idle. */
  onEvent(): void;
  now(): number;
}

/** Dispenser fault (docs/protocol.md#error-codes, 41 退幣器故障): raised by a jam; while active the hopper pays nothing. */
const DISPENSER_FAULT = 41;
const BILLS: ReadonlySet<number> = new Set(billAmounts);
const COINS: ReadonlySet<number> = new Set(coinAmounts);

export class Machine {
  private timer: NodeJS.Timeout | null = null;
  private jam = false;

  constructor(
    readonly state: BoardState,
    private readonly opts: MachineOptions,
  ) {}

  /**
   * After a restart: a payout cut by the power loss is not resumed (a real
   * hopper stops when the power goes); it ends with what it paid, reason
   * `unknown`. Queued ones were accepted and still run.
   */
  recover(): void {
    for (const p of this.state.payouts) {
      if (p.state === 'paying') this.finish(p, 'unknown');
    }
    this.runPayouts();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- events -------------------------------------------------------------

  headEvent(): PendingEvent | undefined {
    return this.state.pending[0];
  }

  eventAcked(eventId: number): void {
    if (this.state.pending[0]?.eventId !== eventId) return;
    this.state.pending.shift();
    this.opts.save(this.state);
    this.opts.onEvent();
  }

  /**
   * Queues an event. An unsent progress report of the same payout is
   * updated in place instead (the head may be on the wire, so it is never
   * touched): the agent needs the latest count, not every coin.
   */
  private emit(event: BoardEvent, saveNow = true): number {
    const tail = this.state.pending.at(-1);
    if (
      event.kind === 'payout_progress' &&
      this.state.pending.length > 1 &&
      tail?.event.kind === 'payout_progress' &&
      tail.event.payoutId === event.payoutId
    ) {
      tail.event = event;
    } else {
      this.state.pending.push({ eventId: ++this.state.eventCounter, createdAt: this.opts.now(), event });
    }
    // Saved before the endpoint may put it on the wire.
    if (saveNow) {
      this.opts.save(this.state);
      this.opts.onEvent();
    }
    return this.state.pending.at(-1)!.eventId;
  }

  // ---- control (what a customer or technician does) -----------------------

  /**
   * A bill goes in: stacked and reported, or handed back (an unknown value,
   * acceptors disabled, its value inhibited). `stray`: an acceptor that
   * stacks it anyway, whatever its value or inhibit says.
   */
  insertBill(amount: number, stray = false): number | null {
    if (!stray && !this.accepts(BILLS, amount)) return null;
    this.state.totals.bills += amount;
    return this.emit({ kind: 'bill', amount });
  }

  insertCoin(amount: number, stray = false): number | null {
    if (!stray && !this.accepts(COINS, amount)) return null;
    this.state.totals.coins += amount;
    return this.emit({ kind: 'coin', amount });
  }

  private accepts(known: ReadonlySet<number>, amount: number): boolean {
    return known.has(amount) && this.state.acceptorsEnabled && !(this.state.inhibit ?? []).includes(amount);
  }

  door(open: boolean): number {
    this.state.doorOpen = open;
    return this.emit({ kind: 'door', open });
  }

  refill(coins: number): number {
    return this.setInventory(this.state.inventory + coins);
  }

  setInventory(coins: number): number {
    this.state.inventory = coins;
    const id = this.emit(this.levelEvent());
    this.runPayouts();
    return id;
  }

  raiseFault(code: number): number {
    if (!this.state.faults.includes(code)) this.state.faults.push(code);
    return this.emit({ kind: 'fault_raised', code });
  }

  clearFault(code: number): number {
    this.state.faults = this.state.faults.filter((c) => c !== code);
    const id = this.emit({ kind: 'fault_cleared', code });
    this.runPayouts();
    return id;
  }

  /** The next coin jams the hopper. */
  jamNext(): void {
    this.jam = true;
  }

  // ---- requests from the agent ---------------------------------------------

  handle(req: Message): Message {
    switch (req.name) {
      case 'ping':
        return { name: 'pong' };
      case 'hello':
        return { name: 'hello_reply', version: 1, boardId: this.state.boardId, eventCounter: this.state.eventCounter };
      case 'payout':
        return this.payout(req.payoutId, req.coins);
      case 'set_acceptors':
        this.state.acceptorsEnabled = req.enabled;
        this.state.inhibit = req.inhibit;
        this.opts.save(this.state);
        return { name: 'set_acceptors_reply' };
      case 'display':
        this.state.display = req.text;
        this.opts.save(this.state);
        return { name: 'display_reply' };
      case 'status':
        return { name: 'status_reply', ...this.status(req.maxPayouts || 16) };
      default:
        return { name: 'error', code: 'unknown_type', detail: `${req.name} is not a board request` };
    }
  }

  private payout(payoutId: string, coins: number): Message {
    if (coins < 1) return { name: 'error', code: 'bad_payload', detail: 'coins must be at least 1' };
    if (payoutId === '' || Buffer.byteLength(payoutId) > MAX_PAYOUT_ID_BYTES) return { name: 'error', code: 'bad_payload', detail: 'bad payout id' };
    const known = this.state.payouts.find((p) => p.payoutId === payoutId);
    if (known) {
      // Never pay an id twice (whatever count the repeat asks for): report what it did, through the event path.
      this.emit(
        known.state === 'done'
          ? { kind: 'payout_done', payoutId, requested: known.requested, paid: known.paid, reason: known.reason ?? 'unknown' }
          : { kind: 'payout_progress', payoutId, requested: known.requested, paid: known.paid },
      );
      return { name: 'payout_reply', known: true, payout: { ...known } };
    }
    const record: PayoutRecord = { payoutId, state: 'queued', requested: coins, paid: 0, reason: null };
    this.state.payouts.push(record);
    if (this.state.payouts.length > MAX_PAYOUTS) this.state.payouts.splice(0, this.state.payouts.length - MAX_PAYOUTS);
    this.opts.save(this.state);
    setImmediate(() => this.runPayouts());
    return { name: 'payout_reply', known: false, payout: { ...record } };
  }

  /** Unfinished payouts first, then the most recent, as many as asked and as fit one frame. */
  status(maxPayouts: number): StatusReply {
    const s = this.state;
    const open = s.payouts.filter((p) => p.state !== 'done');
    const done = s.payouts.filter((p) => p.state === 'done').reverse();
    let size = 4 + 1 + 4 + 2 + 1 + 2 * s.faults.length + 1;
    const payouts: PayoutRecord[] = [];
    for (const p of [...open, ...done]) {
      const n = 11 + Buffer.byteLength(p.payoutId);
      if (payouts.length >= maxPayouts || size + n > MAX_PAYLOAD) break;
      payouts.push({ ...p });
      size += n;
    }
    return {
      inventory: s.inventory,
      doorOpen: s.doorOpen,
      acceptorsEnabled: s.acceptorsEnabled,
      lowSensor: s.inventory < this.opts.lowLevel,
      eventCounter: s.eventCounter,
      pendingEvents: s.pending.length,
      faults: [...s.faults],
      payouts,
    };
  }

  // ---- the hopper ------------------------------------------------------------

  private runPayouts(): void {
    if (this.timer) return;
    const current = this.state.payouts.find((p) => p.state === 'paying') ?? this.state.payouts.find((p) => p.state === 'queued');
    if (!current) return;
    if (current.state === 'queued') {
      current.state = 'paying';
      this.opts.save(this.state);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick(current);
      this.runPayouts();
    }, this.opts.coinMs);
  }

  private tick(p: PayoutRecord): void {
    if (this.state.faults.includes(DISPENSER_FAULT)) return this.finish(p, 'fault');
    if (this.jam) {
      this.jam = false;
      this.finish(p, 'jam', false);
      this.raiseFault(DISPENSER_FAULT);
      return;
    }
    if (this.state.inventory === 0) return this.finish(p, 'hopper_empty');
    // One coin leaves the hopper; coin, count and report are saved together.
    this.state.inventory--;
    this.state.totals.paidOut++;
    p.paid++;
    if (this.state.inventory === 0) this.emit({ kind: 'hopper_empty' }, false);
    if (p.paid === p.requested) this.finish(p, 'complete');
    else if (this.state.inventory === 0) this.finish(p, 'hopper_empty');
    else this.emit({ kind: 'payout_progress', payoutId: p.payoutId, requested: p.requested, paid: p.paid });
  }

  private finish(p: PayoutRecord, reason: PayoutEndReason, saveNow = true): void {
    p.state = 'done';
    p.reason = reason;
    this.emit({ kind: 'payout_done', payoutId: p.payoutId, requested: p.requested, paid: p.paid, reason }, false);
    this.emit(this.levelEvent(), saveNow);
  }

  private levelEvent(): BoardEvent {
    return { kind: 'hopper_level', coins: this.state.inventory, lowSensor: this.state.inventory < this.opts.lowLevel };
  }
}
