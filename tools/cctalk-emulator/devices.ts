/**
 * Emulated ccTalk peripherals (docs/cctalk.md "Emulator"): a coin acceptor,
 * a bill validator with escrow and a hopper with a coin count. Each answers
 * only the headers the specification defines for it; `handle` returns the
 * reply's data, 'nak', or null for no reply (an unknown header, like real
 * devices). Event buffers hold the last 5 events behind a counter that runs
 * 1–255, wraps to 1, and is 0 after a reset.
 */
import type { ChecksumKind } from '../../shared/cctalk/frame.js';
import { H, HOPPER_ENABLE_CODE, HOPPER_FLAG, ROUTE, ROUTE_REPLY, nextCounter } from '../../shared/cctalk/headers.js';

export type Reply = number[] | 'nak' | null;

export abstract class EmulatedDevice {
  /** Not answering at all (unplugged, powered off). */
  unplugged = false;
  constructor(
    readonly address: number,
    readonly checksum: ChecksumKind,
    readonly category: string,
    readonly product: string,
    readonly serial: number,
  ) {}

  handle(header: number, data: Uint8Array): Reply {
    if (this.unplugged) return null;
    switch (header) {
      case H.simplePoll:
        return [];
      case H.addressPoll:
        return [this.address];
      case H.requestManufacturerId:
        return ascii('CRX');
      case H.requestEquipmentCategory:
        return ascii(this.category);
      case H.requestProductCode:
        return ascii(this.product);
      case H.requestSerialNumber:
        return [this.serial & 0xff, (this.serial >> 8) & 0xff, (this.serial >> 16) & 0xff];
      case H.resetDevice:
        this.reset();
        return [];
      default:
        return this.own(header, data);
    }
  }

  /** Power-up state. */
  abstract reset(): void;
  protected abstract own(header: number, data: Uint8Array): Reply;
}

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** A 5-entry event buffer behind an event counter (229 / 159). */
class EventBuffer {
  counter = 0;
  entries: Array<[number, number]> = [];
  /** Events pushed since the host last read the buffer: past 5, events are lost. */
  unread = 0;

  push(a: number, b: number): void {
    this.unread += 1;
    this.counter = nextCounter(this.counter);
    this.entries.unshift([a, b]);
    this.entries.length = Math.min(this.entries.length, 5);
  }

  /** Hostile: the counter moves by `n` without the events (they are lost). */
  jump(n: number): void {
    for (let i = 0; i < n; i++) this.push(0, 1);
  }

  reply(): number[] {
    this.unread = 0;
    const out = [this.counter];
    for (let i = 0; i < 5; i++) out.push(...(this.entries[i] ?? [0, 0]));
    return out;
  }

  clear(): void {
    this.counter = 0;
    this.unread = 0;
    this.entries = [];
  }
}

/** Shared by the coin acceptor and the bill validator: inhibits and the buffer. */
abstract class Acceptor extends EmulatedDevice {
  readonly events = new EventBuffer();
  /** 228 bit 0: accepting. Off after a reset. */
  accepting = false;
  /** 231: bit n-1 enables type n. All inhibited after a reset. */
  mask = 0;

  constructor(
    address: number,
    checksum: ChecksumKind,
    category: string,
    product: string,
    serial: number,
    readonly values: readonly number[],
  ) {
    super(address, checksum, category, product, serial);
  }

  reset(): void {
    this.events.clear();
    this.accepting = false;
    this.mask = 0;
  }

  /** The type of `value`, or 0 if the device does not know it. */
  typeOf(value: number): number {
    return this.values.indexOf(value) + 1;
  }

  enabled(type: number): boolean {
    return this.accepting && type > 0 && (this.mask & (1 << (type - 1))) !== 0;
  }

  protected inhibits(header: number, data: Uint8Array): Reply | undefined {
    if (header === H.modifyInhibitStatus && data.length === 2) {
      this.mask = data[0]! | (data[1]! << 8);
      return [];
    }
    if (header === H.modifyMasterInhibit && data.length === 1) {
      this.accepting = (data[0]! & 1) === 1;
      return [];
    }
    return undefined;
  }
}

export class CoinAcceptor extends Acceptor {
  /** Values of the coins credited, ever (the cash box). */
  accepted: number[] = [];

  constructor(address = 2, checksum: ChecksumKind = 'simple', values: readonly number[] = [1, 5, 10, 50]) {
    super(address, checksum, 'Coin Acceptor', 'CRX-COIN', 0x0a0b0c, values);
  }

  /** A coin drops in: credited (type, sorter path 1) or rejected (0, 2 = inhibited coin). */
  insert(value: number): 'accepted' | 'rejected' {
    const type = this.typeOf(value);
    if (!this.enabled(type)) {
      this.events.push(0, 2);
      return 'rejected';
    }
    this.events.push(type, 1);
    this.accepted.push(value);
    return 'accepted';
  }

  protected own(header: number, data: Uint8Array): Reply {
    const r = this.inhibits(header, data);
    if (r !== undefined) return r;
    if (header === H.readBufferedCredit) return this.events.reply();
    if (header === H.requestCoinId && data.length === 1) return ascii(`TW${String(this.values[data[0]! - 1] ?? 0).padStart(3, '0')}A`);
    return null;
  }
}

export class BillValidator extends Acceptor {
  /** The bill type held in escrow, 0: none. */
  escrow = 0;
  private escrowTimer: NodeJS.Timeout | undefined;
  stacked: number[] = [];

  constructor(
    address = 40,
    checksum: ChecksumKind = 'simple',
    values: readonly number[] = [100, 200, 500, 1000, 2000],
    private readonly escrowTimeoutMs = 5_000,
  ) {
    super(address, checksum, 'Bill Validator', 'CRX-BILL', 0x0d0e0f, values);
  }

  /** A bill goes in: held in escrow (type, 1), or refused (0, 0 = master inhibit / 4 = inhibited). */
  insert(value: number): 'escrow' | 'rejected' | 'busy' {
    if (this.escrow) return 'busy';
    const type = this.typeOf(value);
    if (!this.enabled(type)) {
      this.events.push(0, this.accepting ? 4 : 0);
      return 'rejected';
    }
    this.escrow = type;
    this.events.push(type, 1);
    // A validator hands the bill back by itself when the host does not route it in time.
    this.escrowTimer = setTimeout(() => this.route(ROUTE.returnBill), this.escrowTimeoutMs);
    return 'escrow';
  }

  override reset(): void {
    super.reset();
    clearTimeout(this.escrowTimer);
    this.escrow = 0;
  }

  stop(): void {
    clearTimeout(this.escrowTimer);
  }

  private route(code: number): Reply {
    if (!this.escrow) return [ROUTE_REPLY.escrowEmpty];
    clearTimeout(this.escrowTimer);
    const type = this.escrow;
    this.escrow = 0;
    if (code === ROUTE.stack) {
      this.stacked.push(this.values[type - 1]!);
      this.events.push(type, 0);
    } else {
      this.events.push(0, 1);
    }
    return [];
  }

  protected own(header: number, data: Uint8Array): Reply {
    const r = this.inhibits(header, data);
    if (r !== undefined) return r;
    if (header === H.readBufferedBillEvents) return this.events.reply();
    if (header === H.routeBill && data.length === 1) return this.route(data[0]!);
    if (header === H.requestBillId && data.length === 1) return ascii(`TW${String(this.values[data[0]! - 1] ?? 0).padStart(4, '0')}A`);
    return null;
  }
}

export class Hopper extends EmulatedDevice {
  counter = 0;
  remaining = 0;
  paid = 0;
  unpaid = 0;
  flags = 0;
  enabled = false;
  /** Coins that physically left the hopper, ever. */
  dispensed = 0;
  /** Coins added by `load`, ever. */
  loaded = 0;
  /** An armed jam stops the next payout after this many coins. */
  jamAfter: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    address = 3,
    checksum: ChecksumKind = 'simple',
    public coins = 100,
    private readonly coinMs = 5,
    private readonly dispense: 'plain' | 'serial' = 'plain',
  ) {
    super(address, checksum, 'Payout', 'CRX-HOPPER', 0x4e4605);
  }

  reset(): void {
    this.stopMotor();
    this.counter = 0;
    this.enabled = false;
    this.flags = 0;
  }

  /**
   * Power lost mid-payout: the counts of the payout are kept (EEPROM), the motor stops, the device goes
   * silent. `forget`: a hopper without non-volatile counts, whose last-payout counts read 0 after it.
   */
  powerCut(forget = false): void {
    this.reset();
    if (forget) this.paid = this.unpaid = 0;
    this.unplugged = true;
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  load(coins: number): void {
    this.coins += coins;
    this.loaded += coins;
  }

  private stopMotor(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.remaining > 0) {
      this.unpaid = this.remaining;
      this.remaining = 0;
    }
  }

  private coin(): void {
    this.timer = undefined;
    if (this.remaining === 0) return;
    if (this.jamAfter !== undefined && this.paid >= this.jamAfter) {
      this.jamAfter = undefined;
      this.flags |= HOPPER_FLAG.optoBlockedPayout;
      this.stopMotor();
      return;
    }
    if (this.coins === 0) {
      this.flags |= HOPPER_FLAG.payoutTimeout;
      this.stopMotor();
      return;
    }
    this.coins -= 1;
    this.dispensed += 1;
    this.paid += 1;
    this.remaining -= 1;
    if (this.remaining > 0) this.timer = setTimeout(() => this.coin(), this.coinMs);
  }

  protected own(header: number, data: Uint8Array): Reply {
    switch (header) {
      case H.enableHopper:
        if (data.length !== 1) return null;
        this.enabled = data[0] === HOPPER_ENABLE_CODE;
        return [];
      case H.requestHopperStatus:
        return [this.counter, this.remaining, this.paid, this.unpaid];
      case H.testHopper:
        return [this.flags | (this.enabled ? 0 : HOPPER_FLAG.payoutDisabled), 0];
      case H.dispenseHopperCoins: {
        const want = this.dispense === 'plain' ? 1 : 4;
        if (data.length !== want) return null;
        if (this.dispense === 'serial' && (data[0]! | (data[1]! << 8) | (data[2]! << 16)) !== this.serial) return 'nak';
        const n = data[want - 1]!;
        if (!this.enabled || this.remaining > 0 || n === 0 || this.flags & (HOPPER_FLAG.optoBlockedPayout | HOPPER_FLAG.optoPathBlocked)) return 'nak';
        this.counter = nextCounter(this.counter);
        this.flags &= ~HOPPER_FLAG.payoutTimeout;
        this.remaining = n;
        this.paid = 0;
        this.unpaid = 0;
        this.timer = setTimeout(() => this.coin(), this.coinMs);
        return [this.counter];
      }
      default:
        return null;
    }
  }
}
