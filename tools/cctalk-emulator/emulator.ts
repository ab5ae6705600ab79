/**
 * A machine of ccTalk peripherals on one bus and its control language: one
 * command per line, one JSON answer ({"ok":true,…} or {"ok":false,"error":…}).
 * Used by main.ts (a process on a serial device) and in-process by tests.
 */
import type { ChecksumKind } from '../../shared/cctalk/frame.js';
import { dispatchControl, wholeNumber as int, type ControlReply } from '../emulator-control.js';
import { EmulatedBus, hostileKinds, type HostileKind } from './bus.js';
import { BillValidator, CoinAcceptor, Hopper, type EmulatedDevice } from './devices.js';

export interface EmulatorOptions {
  /** Coins in the hopper. Default 100. */
  inventory?: number;
  /** Time per coin paid, ms. Default 5. */
  coinMs?: number;
  coinChecksum?: ChecksumKind;
  billChecksum?: ChecksumKind;
  hopperChecksum?: ChecksumKind;
  /** 167's form the hopper expects. Default plain. */
  dispense?: 'plain' | 'serial';
  /** The bill validator hands an unrouted bill back after this long, ms. Default 5000. */
  escrowTimeoutMs?: number;
  /** Echo the host's bytes (a one-wire bus). Default true. */
  echo?: boolean;
}

export const controlHelp = [
  'coin <ntd>                 a coin drops in (1, 5, 10, 50)',
  'bill <ntd>                 a bill goes in (100, 200, 500, 1000, 2000): held in escrow',
  'jam [coins]                the next payout jams after that many coins (default 2)',
  'unjam                      clears the hopper flags (the jam was removed)',
  'empty                      the hopper has no coins',
  'refill <coins>             sets the hopper count',
  'load <coins>               adds coins to the hopper (counted in loaded)',
  'reset coin|bill|hopper     the device resets (counter 0, inhibits, hopper disabled)',
  'unplug coin|bill|hopper    the device stops answering',
  'plug coin|bill|hopper      it answers again',
  'powercut [forget]          the hopper loses power mid-payout (counts kept, or lost with forget; silent until plug)',
  'jump <n>                   the coin acceptor counter moves by n without the events',
  `hostile ${hostileKinds.join('|')} [n]  spoils the next n replies`,
  'raw <hex>                  the next reply is exactly these bytes',
  'echo on|off',
  'state                      devices and counters as JSON',
];


export class CctalkEmulator {
  readonly coin: CoinAcceptor;
  readonly bill: BillValidator;
  readonly hopper: Hopper;
  readonly bus: EmulatedBus;

  constructor(write: (bytes: Buffer) => void, o: EmulatorOptions = {}) {
    this.coin = new CoinAcceptor(2, o.coinChecksum ?? 'simple');
    this.bill = new BillValidator(40, o.billChecksum ?? 'simple', undefined, o.escrowTimeoutMs ?? 5_000);
    this.hopper = new Hopper(3, o.hopperChecksum ?? 'simple', o.inventory ?? 100, o.coinMs ?? 5, o.dispense ?? 'plain');
    this.bus = new EmulatedBus([this.coin, this.bill, this.hopper], write);
    this.bus.echo = o.echo ?? true;
  }

  receive(chunk: Buffer): void {
    this.bus.receive(chunk);
  }

  stop(): void {
    this.bill.stop();
    this.hopper.stop();
    this.bus.close();
  }

  state() {
    const h = this.hopper;
    return {
      coin: { counter: this.coin.events.counter, unread: this.coin.events.unread, accepted: this.coin.accepted, accepting: this.coin.accepting, mask: this.coin.mask, unplugged: this.coin.unplugged },
      bill: { counter: this.bill.events.counter, unread: this.bill.events.unread, accepting: this.bill.accepting, mask: this.bill.mask, escrow: this.bill.escrow, stacked: this.bill.stacked, unplugged: this.bill.unplugged },
      hopper: { counter: h.counter, coins: h.coins, loaded: h.loaded, dispensed: h.dispensed, remaining: h.remaining, paid: h.paid, unpaid: h.unpaid, flags: h.flags, enabled: h.enabled, unplugged: h.unplugged },
      bus: { ...this.bus.counters, spoilsLeft: this.bus.spoilsLeft },
    };
  }

  control(line: string): ControlReply {
    const h = this.hopper;
    const ok = (f: () => unknown) => (): ControlReply => {
      f();
      return { ok: true };
    };
    return dispatchControl(
      line,
      {
        coin: ([arg]) => ({ ok: true, outcome: this.coin.insert(int(arg, 'coin')) }),
        bill: ([arg]) => ({ ok: true, outcome: this.bill.insert(int(arg, 'bill')) }),
        jam: ([arg]) => ok(() => (h.jamAfter = arg === undefined ? 2 : int(arg, 'jam')))(),
        unjam: ok(() => (h.flags = 0)),
        empty: ok(() => (h.coins = 0)),
        refill: ([arg]) => ok(() => (h.coins = int(arg, 'refill')))(),
        load: ([arg]) => ok(() => h.load(int(arg, 'load')))(),
        reset: ([arg]) => ok(() => this.device(arg).reset())(),
        unplug: ([arg]) => ok(() => (this.device(arg).unplugged = true))(),
        plug: ([arg]) => ok(() => (this.device(arg).unplugged = false))(),
        powercut: ([arg]) => {
          if (arg !== undefined && arg !== 'forget') throw new Error('powercut: nothing or forget');
          h.powerCut(arg === 'forget');
          return { ok: true, paid: h.paid, unpaid: h.unpaid };
        },
        jump: ([arg]) => ok(() => this.coin.events.jump(int(arg, 'jump')))(),
        hostile: ([kind, n]) => {
          if (!hostileKinds.includes(kind as HostileKind)) throw new Error(`hostile: one of ${hostileKinds.join(', ')}`);
          this.bus.spoil(kind as HostileKind, n === undefined ? 1 : int(n, 'hostile count'));
          return { ok: true };
        },
        raw: ([hex]) => {
          if (!hex || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('raw: hex bytes, e.g. 01000200FD');
          this.bus.spoil(Buffer.from(hex, 'hex'));
          return { ok: true };
        },
        echo: ([arg]) => {
          if (arg !== 'on' && arg !== 'off') throw new Error('echo: on or off');
          this.bus.echo = arg === 'on';
          return { ok: true };
        },
        state: () => ({ ok: true, state: this.state() }),
      },
      controlHelp,
    );
  }

  private device(name: string | undefined): EmulatedDevice {
    if (name === 'coin') return this.coin;
    if (name === 'bill') return this.bill;
    if (name === 'hopper') return this.hopper;
    throw new Error('expected coin, bill or hopper');
  }
}

