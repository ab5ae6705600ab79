/**
 * HardwareDriver over a ccTalk bus (docs/cctalk.md): a coin acceptor, a bill
 * validator with escrow and a hopper, each optional, polled in turn by one
 * loop. What a poll reads is committed with the events it yields in one
 * atomic step (store.ts) and reaches the sink through the pending list
 * (pending-events.ts), so each device event becomes one hw-event, once,
 * across restarts. Every step (a poll, a command) runs on one chain.
 */
import type { Redis } from 'ioredis';
import { hwCommandSchema, type HwCommand, type HwEvent } from '../../../queue/jobs.js';
import { systemClock, type Clock } from '../../../shared/clock.js';
import type { RedisKeys } from '../../../shared/keys.js';
import type { Logger } from '../../../shared/logger.js';
import type { Metrics } from '../../../shared/metrics.js';
import { DriverError, type EventBatchSink, type EventSink, type HardwareDriver } from '../driver.js';
import { payoutDoneEventId, stampEvent, type EventDraft } from '../events.js';
import { PendingEvents, Resync, type PendingEventsOptions } from '../pending-events.js';
import type { PortFactory } from '../serial/reconnecting-port.js';
import { CctalkBus, type BusCounters } from './bus.js';
import { creditable, inhibitMask, valueOfType, type CashKind } from './denominations.js';
import type { ChecksumKind } from '../../../shared/cctalk/frame.js';
import {
  BILL_ESCROW,
  BILL_STACKED,
  H,
  HOPPER_ENABLE_CODE,
  HOPPER_FLAG,
  ROUTE,
  ascii,
  billStatusClass,
  coinErrorClass,
  readEventBuffer,
  readHopperStatus,
  serialNumber,
  type BufferedEvent,
  type HopperStatus,
} from '../../../shared/cctalk/headers.js';
import { judgeSegment } from './payout-judge.js';
import { CctalkStore, type CctalkState, type Change, type HopperRun, type PayoutRecord } from './store.js';

export type Role = 'coin' | 'bill' | 'hopper';

export interface DeviceConfig {
  address: number;
  checksum: ChecksumKind;
}

/**
 * The data of a 167 before the coin count: nothing (plain), the hopper's
 * serial number (serial), or a cipher a vendor module computes. Pluggable.
 */
export type DispenseAuth = (hopper: { serial: number | undefined; request(header: number, data: number[]): Promise<Uint8Array> }) => Promise<number[]>;

export const dispenseAuths: Record<'plain' | 'serial', DispenseAuth> = {
  plain: async () => [],
  serial: async ({ serial }) => {
    if (serial === undefined) throw new DriverError('REFUSED', 'hopper serial number unknown (242 unanswered)');
    return [serial & 0xff, (serial >> 8) & 0xff, (serial >> 16) & 0xff];
  },
};

export interface CctalkDriverOptions {
  path: string;
  baudRate: number;
  openPort: PortFactory;
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
  metrics?: Metrics;
  clock?: Clock;
  devices: Partial<Record<Role, DeviceConfig>>;
  /** NTD value of coin types 1…n (0: unused type). */
  coinValues: readonly number[];
  /** NTD value of bill types 1…n (0: unused type). */
  billValues: readonly number[];
  dispenseAuth?: DispenseAuth;
  /** Pause between two polls of every device, ms (COINEREX_CCTALK_POLL_MS). */
  pollMs: number;
  /** Pause between two polls while the hopper pays, ms. Default pollMs / 2. */
  payoutPollMs?: number;
  /** Wait for a reply, ms (COINEREX_CCTALK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Polls in a row a device leaves unanswered before it counts as gone. Default 3. */
  missLimit?: number;
  /** `start()` waits at most this long for the port, ms. Default 3000. */
  startWaitMs?: number;
  reopenMinMs?: number;
  reopenMaxMs?: number;
  pending?: PendingEventsOptions;
}

/** Per role: the code of a device gone or reset, and of events lost or a fraud pattern (docs/protocol.md §6). */
const LINK_CODE: Record<Role, number> = { coin: 13, bill: 21, hopper: 41 };
const TAMPER_CODE: Record<Role, number> = { coin: 12, bill: 22, hopper: 43 };
/** 入幣設定異常 / 紙鈔設定異常(RS232): a coin or bill the agent cannot credit got through. */
const SETUP_CODE: Record<'coin' | 'bill', number> = { coin: 7, bill: 8 };
const JAM_FLAGS = HOPPER_FLAG.optoBlockedPayout | HOPPER_FLAG.maxCurrent;
const FRAUD_FLAGS = HOPPER_FLAG.optoPathBlocked | HOPPER_FLAG.optoShort;
/** Sends of one dispense that the hopper provably did not take, before the payout ends as a fault. */
const MAX_SENDS = 5;

interface Device extends DeviceConfig {
  role: Role;
  /** undefined until the first poll. */
  up: boolean | undefined;
  misses: number;
  needsInit: boolean;
  /** An acceptor set up again: it accepts only after its buffer was read (a reset device takes nothing until then). */
  enablePending?: boolean;
  identity?: { category: string; product: string; serial: number | undefined };
}

export interface CctalkDriver extends HardwareDriver {
  /** The devices as last seen: for `coinerex doctor` and tests. */
  devices(): Array<{ role: Role; address: number; up: boolean | undefined; identity?: Device['identity'] }>;
  /** What the bus saw: replies, drops by kind, timeouts. */
  counters(): BusCounters;
}

type Draft = EventDraft;

export class CctalkHardware implements CctalkDriver {
  private readonly bus: CctalkBus;
  private readonly store: CctalkStore;
  private readonly pending: PendingEvents;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly devs: Device[];
  private chain: Promise<unknown> = Promise.resolve();
  private started = false;
  private closing: Promise<void> | undefined;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private linkUp: boolean | undefined;
  private readonly resync: Resync;
  /** The hopper answered every poll since this process recorded the current dispense. */
  private segContinuous = false;
  private sends = 0;
  private lastProgress = -1;
  private readonly auth: DispenseAuth;

  constructor(private readonly options: CctalkDriverOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log.child({ driver: 'cctalk', path: options.path });
    this.auth = options.dispenseAuth ?? dispenseAuths.plain;
    this.store = new CctalkStore(options.redis, options.keys);
    this.pending = new PendingEvents(options.redis, options.keys, this.log, options.pending);
    this.resync = new Resync(
      this.pending,
      (read) => void (this.chain = this.chain.then(read)),
      () => this.closing !== undefined,
    );
    this.devs = (['coin', 'bill', 'hopper'] as const).flatMap((role) => {
      const d = options.devices[role];
      return d ? [{ ...d, role, up: undefined, misses: 0, needsInit: true }] : [];
    });
    this.bus = new CctalkBus({
      path: options.path,
      baudRate: options.baudRate,
      openPort: options.openPort,
      log: this.log,
      timeoutMs: options.timeoutMs,
      reopenMinMs: options.reopenMinMs,
      reopenMaxMs: options.reopenMaxMs,
      onOpen: () => this.onPort(true),
      onClose: (reason) => this.onPort(false, reason),
      onReject: (kind) => options.metrics?.incr('cctalk_input_dropped_total', { kind }),
    });
  }

  onEvent(sink: EventSink): void {
    this.pending.onDeliver(async (events) => {
      for (const event of events) await sink(event);
    });
  }

  onEvents(sink: EventBatchSink): void {
    this.pending.onDeliver(sink);
  }

  devices() {
    return this.devs.map(({ role, address, up, identity }) => ({ role, address, up, identity }));
  }

  counters(): BusCounters {
    return structuredClone(this.bus.counters);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.pending.sync();
    await this.store.load();
    this.bus.start();
    this.loopDone = this.loop();
    const deadline = this.clock.now() + (this.options.startWaitMs ?? 3000);
    // Wait until every device answered and was set up, or is known gone (or the deadline): cash is taken from then on.
    const ready = (d: Device): boolean => d.up === false || (d.up === true && !d.needsInit && !d.enablePending);
    while (this.clock.now() < deadline && !this.closing && !this.devs.every(ready)) await sleep(10);
    this.pending.kick();
  }

  async execute(cmd: HwCommand): Promise<void> {
    const parsed = hwCommandSchema.safeParse(cmd);
    if (!parsed.success) throw new DriverError('INVALID', `invalid hardware command: ${parsed.error.message}`);
    if (!this.started || this.closing) throw new DriverError('LINK_DOWN', 'ccTalk driver is not running');
    const c = parsed.data;
    switch (c.kind) {
      case 'payout':
        await this.step(() => this.acceptPayout(c.payoutId, c.coins));
        this.wake?.();
        return;
      case 'set_acceptors':
        await this.step(async () => {
          const s = this.store.state;
          s.acceptorsEnabled = c.enabled;
          s.inhibit = c.inhibit ?? [];
          await this.commit({ state: s });
          for (const d of this.devs) {
            // A device being set up again takes the new state from its set-up, and is enabled only after its buffer was read.
            if (d.role === 'hopper' || !d.up || d.needsInit) continue;
            await this.request(d, H.modifyInhibitStatus, inhibitMask(d.role, this.values(d.role), s.inhibit), 1)
              .then(() => (d.enablePending ? undefined : this.masterInhibit(d, c.enabled)))
              .catch((err: unknown) => this.missed(d, err));
          }
        });
        return;
      case 'display':
        // ccTalk peripherals have no display: accepted and dropped.
        return;
      case 'report_status':
        await this.step(() => this.reportStatus(c.requestId));
        return;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.wake?.();
      this.resync.cancel();
      await this.loopDone;
      await this.chain.catch(() => undefined);
      await this.bus.close();
      await this.pending.close();
    })();
    return this.closing;
  }

  // ---- the loop ---------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.closing) {
      await this.step(() => this.tick()).catch((err: unknown) => this.log.warn({ err }, 'ccTalk poll failed'));
      if (this.closing) return;
      const paying = this.store.state.run !== undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, paying ? (this.options.payoutPollMs ?? Math.max(1, this.options.pollMs / 2)) : this.options.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** One step at a time; a step whose commit had an unknown outcome makes the pending list be read again. */
  private step<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.chain.then(async () => {
      await this.pending.sync();
      await this.store.load();
      return fn();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async commit(change: Change): Promise<void> {
    try {
      await this.store.commit(change);
    } catch (err) {
      this.pending.markStale();
      this.resync.later();
      throw err;
    }
    this.pending.recorded(change.events ?? []);
  }


  private readonly stamp = (draft: Draft, eventId?: string): HwEvent => stampEvent(draft, this.clock.now(), eventId);

  private onPort(open: boolean, reason?: string): void {
    if (this.linkUp === open || (this.closing && !open)) return;
    this.linkUp = open;
    this.log[open ? 'info' : 'warn']({ reason }, open ? 'ccTalk bus open' : 'ccTalk bus lost');
    for (const d of this.devs) d.needsInit = true;
    this.segContinuous = false;
    void this.step(() => this.commit({ events: [this.stamp({ kind: 'link', up: open })] })).catch((err: unknown) =>
      this.log.warn({ err }, 'link event not recorded'),
    );
  }

  private async tick(): Promise<void> {
    if (!this.bus.isOpen) return;
    for (const d of this.devs) {
      if (this.closing) return;
      if (d.role === 'hopper') await this.hopperTick(d);
      else await this.acceptorTick(d as Device & { role: CashKind });
    }
  }

  private request(d: Device, header: number, data: number[] = [], retries = 0): Promise<Uint8Array> {
    return this.bus.request(d.address, header, data, d.checksum, { retries });
  }

  // ---- device presence and faults ---------------------------------------------

  private raise(s: CctalkState, events: HwEvent[], code: number, reason: string, context: Record<string, unknown> = {}): void {
    if (s.faults[code] !== undefined) return;
    s.faults[code] = reason;
    events.push(this.stamp({ kind: 'fault_raised', code, context: { ...context, reason, source: 'cctalk' } }));
  }

  private clear(s: CctalkState, events: HwEvent[], code: number, reasons: readonly string[]): void {
    const why = s.faults[code];
    if (why === undefined || !reasons.includes(why)) return;
    delete s.faults[code];
    events.push(this.stamp({ kind: 'fault_cleared', code }));
  }

  /** A poll unanswered: after `missLimit` in a row the device counts as gone (its code raised). */
  private async missed(d: Device, err: unknown): Promise<void> {
    if (d.role === 'hopper') this.segContinuous = false;
    if (err instanceof DriverError && err.code === 'LINK_DOWN') return;
    if (!(err instanceof DriverError)) throw err;
    d.misses += 1;
    if (d.misses < (this.options.missLimit ?? 3) || d.up === false) return;
    d.up = false;
    d.needsInit = true;
    this.log.warn({ role: d.role, address: d.address, err: err.message }, 'ccTalk device not answering');
    const s = this.store.state;
    const events: HwEvent[] = [];
    this.raise(s, events, LINK_CODE[d.role], 'no answer', { device: d.role, address: d.address });
    await this.commit({ state: s, events });
  }

  /** Brings a device (back) into service: identification for the log, then its settings. */
  private async init(d: Device): Promise<void> {
    const category = ascii(await this.request(d, H.requestEquipmentCategory, [], 1));
    const product = ascii(await this.request(d, H.requestProductCode, [], 1));
    const serial = await this.request(d, H.requestSerialNumber, [], 1).then(serialNumber, () => undefined);
    d.identity = { category, product, serial };
    this.log.info({ role: d.role, address: d.address, ...d.identity }, 'ccTalk device ready');
    if (d.role === 'hopper') {
      await this.request(d, H.enableHopper, [HOPPER_ENABLE_CODE], 1);
    } else {
      await this.request(d, H.modifyInhibitStatus, inhibitMask(d.role, this.values(d.role), this.store.state.inhibit), 1);
      d.enablePending = true;
    }
    d.needsInit = false;
  }

  /** 228: bit 0 set = accepting, clear = master inhibit (everything handed back). */
  private masterInhibit(d: Device, enabled: boolean): Promise<Uint8Array> {
    return this.request(d, H.modifyMasterInhibit, [enabled ? 1 : 0], 1);
  }

  private values(role: CashKind): readonly number[] {
    return role === 'coin' ? this.options.coinValues : this.options.billValues;
  }

  /** A poll answered: clears what a missing or reset device raised. */
  private answered(d: Device, s: CctalkState, events: HwEvent[]): void {
    d.misses = 0;
    if (d.up !== true) this.log.info({ role: d.role, address: d.address }, 'ccTalk device answering');
    d.up = true;
    if (!d.needsInit) this.clear(s, events, LINK_CODE[d.role], ['no answer', 'reset']);
  }

  // ---- coin acceptor and bill validator -----------------------------------------

  private async acceptorTick(d: Device & { role: CashKind }): Promise<void> {
    let data: Uint8Array;
    try {
      if (d.needsInit) await this.init(d);
      data = await this.request(d, d.role === 'coin' ? H.readBufferedCredit : H.readBufferedBillEvents, [], 1);
    } catch (err) {
      await this.missed(d, err);
      return;
    }
    const s = this.store.state;
    const events: HwEvent[] = [];
    this.answered(d, s, events);
    let read;
    try {
      read = readEventBuffer(s.counters[d.role], data);
    } catch (err) {
      this.bus.drop('buffer');
      this.log.warn({ role: d.role, err: (err as Error).message }, 'malformed event buffer reply ignored');
      if (events.length) await this.commit({ state: s, events });
      return;
    }
    s.counters[d.role] = read.counter;
    if (read.reset) {
      d.needsInit = true;
      this.log.warn({ role: d.role }, 'ccTalk device was reset; unread events may be lost');
      this.raise(s, events, LINK_CODE[d.role], 'reset', { device: d.role, address: d.address });
    }
    if (read.lost > 0) {
      this.log.error({ role: d.role, lost: read.lost }, 'ccTalk events lost (counter jumped)');
      this.raise(s, events, TAMPER_CODE[d.role], 'events lost', { device: d.role, lost: read.lost, counter: read.counter });
    }
    const routes: Array<{ route: number; value: number | undefined }> = [];
    for (const e of read.fresh) {
      if (d.role === 'coin') this.coinEvent(e, s, events);
      else {
        const route = this.billEvent(e, s, events);
        if (route !== undefined) routes.push({ route, value: valueOfType(this.options.billValues, e.a) });
      }
    }
    await this.commit({ state: s, events });
    if (d.enablePending && !d.needsInit) {
      // After the read: a device that was reset (master inhibit on) has taken nothing its counter could hide.
      await this.masterInhibit(d, s.acceptorsEnabled).catch((err: unknown) => this.missed(d, err));
      d.enablePending = false;
    }
    // Routed only once the escrow event is recorded as read; a bill left in escrow by a crash is handed back by the validator's own timeout.
    for (const r of routes) {
      try {
        const reply = await this.request(d, H.routeBill, [r.route]);
        if (reply.length > 0) this.log.warn({ code: reply[0], ...r }, 'route bill refused');
      } catch (err) {
        this.log.warn({ err: (err as Error).message, ...r }, 'route bill failed; the validator hands the bill back on its escrow timeout');
      }
    }
  }

  private coinEvent(e: BufferedEvent, s: CctalkState, events: HwEvent[]): void {
    if (e.a === 0) {
      const cls = coinErrorClass(e.b);
      this.options.metrics?.incr('cctalk_coin_errors_total', { class: cls });
      if (cls === 'fraud') this.raise(s, events, TAMPER_CODE.coin, 'fraud', { device: 'coin', ccTalkError: e.b });
      else if (cls === 'other') this.log.warn({ ccTalkError: e.b }, 'coin acceptor error');
      return;
    }
    this.credit('coin', e.a, events);
  }

  /** Returns the route code for a bill in escrow. */
  private billEvent(e: BufferedEvent, s: CctalkState, events: HwEvent[]): number | undefined {
    if (e.a === 0) {
      const cls = billStatusClass(e.b);
      this.options.metrics?.incr('cctalk_bill_status_total', { class: cls });
      if (cls === 'jam') this.raise(s, events, LINK_CODE.bill, 'jam', { device: 'bill', ccTalkStatus: e.b });
      if (cls === 'fraud') this.raise(s, events, TAMPER_CODE.bill, 'fraud', { device: 'bill', ccTalkStatus: e.b });
      return undefined;
    }
    if (e.b === BILL_ESCROW) {
      const value = valueOfType(this.options.billValues, e.a);
      const hopperOk = this.hopperCanPay(s);
      const take = s.acceptorsEnabled && hopperOk && value !== undefined && creditable('bill', value) && !s.inhibit.includes(value);
      if (!take) this.log.info({ billType: e.a, value, acceptorsEnabled: s.acceptorsEnabled, inhibit: s.inhibit, hopperOk }, 'bill in escrow handed back');
      return take ? ROUTE.stack : ROUTE.returnBill;
    }
    if (e.b === BILL_STACKED) {
      this.clear(s, events, LINK_CODE.bill, ['jam']);
      this.credit('bill', e.a, events);
      return undefined;
    }
    this.log.warn({ billType: e.a, b: e.b }, 'bill event with an unknown result B ignored');
    return undefined;
  }

  /** A bill is taken only while the hopper can pay for it: answering and without a fault. */
  private hopperCanPay(s: CctalkState): boolean {
    const hopper = this.devs.find((d) => d.role === 'hopper');
    return !hopper || (hopper.up === true && s.faults[LINK_CODE.hopper] === undefined);
  }

  /** Money in: an hw-event, or (a value the agent cannot credit) a recorded fault per item instead of silence. */
  private credit(kind: CashKind, type: number, events: HwEvent[]): void {
    const amount = valueOfType(this.values(kind), type);
    if (amount !== undefined && creditable(kind, amount)) {
      events.push(this.stamp({ kind: kind === 'coin' ? 'coin_accepted' : 'bill_accepted', amount } as Draft));
      return;
    }
    this.log.error({ kind, type, amount }, 'cash accepted that the agent cannot credit');
    events.push(this.stamp({ kind: 'fault_raised', code: SETUP_CODE[kind], context: { reason: 'not creditable', device: kind, type, amount: amount ?? null, source: 'cctalk' } }));
  }

  // ---- hopper ------------------------------------------------------------------

  private async acceptPayout(payoutId: string, coins: number): Promise<void> {
    const hopper = this.devs.find((d) => d.role === 'hopper');
    const rec = await this.store.payout(payoutId);
    if (rec?.done) {
      // A repeat never pays again: its end is reported again, under the same event id.
      await this.commit({ events: [this.doneEvent(payoutId, rec)] });
      return;
    }
    if (rec) {
      this.log.info({ payoutId }, 'repeated payout: already accepted, not paid again');
      return;
    }
    if (!hopper) throw new DriverError('REFUSED', 'no ccTalk hopper is configured');
    // A hopper not answering (power lost, unplugged) still takes the payout: recorded, it starts when the
    // hopper answers again, as the rest of a payout cut by a power loss does. Refused, it would reach the
    // business app only as a payout stuck with no record, which it must leave to a person (51).
    if (hopper.up !== true) this.log.warn({ payoutId, coins }, 'payout accepted while the hopper is not answering; it starts when the hopper is back');
    const s = this.store.state;
    s.queue.push(payoutId);
    await this.commit({ state: s, payouts: { [payoutId]: { requested: coins, paid: 0, done: false, acceptedAt: this.clock.now() } } });
  }

  private doneEvent(payoutId: string, rec: PayoutRecord): HwEvent {
    return this.stamp(
      { kind: 'payout_done', payoutId, requested: rec.requested, paid: rec.paid, unpaid: Math.max(0, rec.requested - rec.paid), reason: rec.reason ?? 'unknown' },
      payoutDoneEventId(payoutId),
    );
  }

  private async hopperTick(d: Device): Promise<void> {
    let st: HopperStatus;
    try {
      if (d.needsInit) await this.init(d);
      st = readHopperStatus(await this.request(d, H.requestHopperStatus, [], 1));
    } catch (err) {
      if (err instanceof RangeError) {
        this.bus.drop('status');
        return;
      }
      await this.missed(d, err);
      return;
    }
    const s = this.store.state;
    const events: HwEvent[] = [];
    this.answered(d, s, events);
    if (s.faults[LINK_CODE.hopper] === 'jam' && !s.run) {
      const flags = await this.testHopper(d);
      if (flags !== undefined && (flags & JAM_FLAGS) === 0) this.clear(s, events, LINK_CODE.hopper, ['jam']);
    }
    if (!s.run && s.queue.length > 0 && s.faults[LINK_CODE.hopper] !== 'jam') {
      const payoutId = s.queue.shift()!;
      const rec = await this.store.payout(payoutId);
      if (rec && !rec.done) s.run = { payoutId, requested: rec.requested, paid: 0 };
      this.lastProgress = -1;
    }
    const run = s.run;
    if (!run) {
      await this.commit({ state: s, events });
      return;
    }
    if (!run.seg) {
      if (run.paid >= run.requested) return this.finish(s, events, run, 'complete');
      run.seg = { coins: Math.min(run.requested - run.paid, 255), counterBefore: st.counter, paidBefore: st.paid, unpaidBefore: st.unpaid, acked: false };
      // Recorded before it is sent: after a crash the next status tells whether the hopper took it.
      await this.commit({ state: s, events });
      this.segContinuous = true;
      this.sends = 0;
      await this.send(d);
      return;
    }
    const v = judgeSegment(run.seg, st, this.segContinuous);
    switch (v.kind) {
      case 'send':
        await this.commit({ state: s, events });
        if (this.sends >= MAX_SENDS) return this.endRefused(run);
        this.log.warn({ payoutId: run.payoutId, counter: st.counter }, 'hopper did not take the dispense (counter unchanged); sending it');
        await this.send(d);
        return;
      case 'paying': {
        const paid = run.paid + v.paid;
        if (paid !== this.lastProgress) {
          this.lastProgress = paid;
          events.push(this.stamp({ kind: 'payout_progress', payoutId: run.payoutId, requested: run.requested, paid }));
        }
        await this.commit({ state: s, events });
        return;
      }
      case 'settled': {
        const seg = run.seg;
        run.paid += v.paid;
        delete run.seg;
        if (v.overpaid > 0) this.raise(s, events, TAMPER_CODE.hopper, 'overpaid', { payoutId: run.payoutId, overpaid: v.overpaid });
        if (run.paid >= run.requested) return this.finish(s, events, run, 'complete');
        if (v.reset) {
          // Cut by a power loss: the hopper's own count says what left it; the remainder is a new dispense.
          this.log.warn({ payoutId: run.payoutId, paid: v.paid, of: seg.coins }, 'payout interrupted by a hopper reset; paying the remainder');
          d.needsInit = true;
          events.push(this.stamp({ kind: 'payout_progress', payoutId: run.payoutId, requested: run.requested, paid: run.paid }));
          await this.commit({ state: s, events });
          return;
        }
        const flags = await this.testHopper(d);
        const reason = flags === undefined ? 'fault' : flags & JAM_FLAGS ? 'jam' : flags & HOPPER_FLAG.payoutTimeout ? 'hopper_empty' : 'fault';
        if (flags !== undefined && flags & FRAUD_FLAGS) this.raise(s, events, TAMPER_CODE.hopper, 'fraud', { hopperFlags: flags });
        return this.finish(s, events, run, reason);
      }
      case 'unknown':
        this.log.error({ run, status: st }, 'interrupted payout cannot be settled from the hopper status; left to a person');
        // Not `unknown` (exact, the rest paid by the business app): coins may have left uncounted, so the business app
        // holds the rest in doubt with 51, which a person decides. No hopper fault: the hopper works, and a fault
        // raised here would have no event to clear it, keeping every bill out for good.
        return this.finish(s, events, run, 'in_doubt');
    }
  }

  private async testHopper(d: Device): Promise<number | undefined> {
    try {
      return (await this.request(d, H.testHopper, [], 1))[0];
    } catch {
      return undefined;
    }
  }

  private async send(d: Device): Promise<void> {
    const s = this.store.state;
    const seg = s.run?.seg;
    if (!seg) return;
    this.sends += 1;
    try {
      await this.request(d, H.enableHopper, [HOPPER_ENABLE_CODE], 1);
      const auth = await this.auth({ serial: d.identity?.serial, request: (header, data) => this.request(d, header, data) });
      // Never retried here: a lost ACK is told apart from a lost request by the next status (payout-judge.ts).
      const reply = await this.request(d, H.dispenseHopperCoins, [...auth, seg.coins]);
      // A 167 ACK carries at most the event counter: anything longer answers another request.
      if (reply.length > 1) throw new DriverError('INVALID', `a 167 reply has at most 1 byte, got ${reply.length}`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, payoutId: s.run?.payoutId }, 'dispense not confirmed; the next hopper status tells');
      return;
    }
    seg.acked = true;
    await this.commit({ state: s });
  }

  private async endRefused(run: HopperRun): Promise<void> {
    const s = this.store.state;
    const events: HwEvent[] = [];
    this.raise(s, events, LINK_CODE.hopper, 'dispense refused', { payoutId: run.payoutId });
    return this.finish(s, events, s.run!, 'fault');
  }

  private async finish(s: CctalkState, events: HwEvent[], run: HopperRun, reason: PayoutRecord['reason'] & string): Promise<void> {
    const old = await this.store.payout(run.payoutId);
    const rec: PayoutRecord = { requested: run.requested, paid: run.paid, done: true, reason, acceptedAt: old?.acceptedAt ?? this.clock.now() };
    s.run = undefined;
    if (reason === 'jam') this.raise(s, events, LINK_CODE.hopper, 'jam', { payoutId: run.payoutId });
    events.push(this.doneEvent(run.payoutId, rec));
    if (reason === 'hopper_empty') events.push(this.stamp({ kind: 'hopper_empty' }));
    this.log.info({ payoutId: run.payoutId, requested: run.requested, paid: run.paid, reason }, 'payout ended');
    await this.commit({ state: s, payouts: { [run.payoutId]: rec }, events });
  }

  private async reportStatus(requestId: string): Promise<void> {
    const s = this.store.state;
    const recent = await this.store.recentPayouts(20);
    const payouts = recent.map((p) => ({
      payoutId: p.payoutId,
      requested: p.requested,
      paid: p.payoutId === s.run?.payoutId ? s.run.paid : p.paid,
      done: p.done,
      ...(p.done && p.reason ? { reason: p.reason } : {}),
    }));
    await this.commit({
      // No inventory (a ccTalk hopper does not count its coins), but every payout taken is in the store, written before any dispense.
      events: [this.stamp({ kind: 'status_report', requestId, inventory: null, doorOpen: false, acceptorsEnabled: s.acceptorsEnabled, payouts, recordsIntact: true })],
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
