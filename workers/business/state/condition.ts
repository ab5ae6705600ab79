/**
 * The machine's derived condition: status code (docs/protocol.md#1-money-and-machine-facts), acceptors,
 * per-function service status, and the `status` message on every status
 * change and every `statusSeconds`.
 *
 *  - status 4 (fault) while a critical error is active; else 3 (remote)
 *    while a remote payout is running; else 1 (standby).
 *  - acceptors off while locked, while a critical error is active, while
 *    an unmapped cash event's fault (6, 7, 8) is active, or while the door
 *    is open; on otherwise. Denominations the configuration does not accept
 *    or the hopper cannot cover are inhibited (acceptors.ts).
 *  - The `machine` hash holds what the hardware CONFIRMED (an `acceptors_set`
 *    event, a status report), never what was asked: `set_acceptors` is sent
 *    again every `acceptorsResendSeconds` until the two agree, so a command
 *    that never left (Redis refused it) or was lost is repeated.
 */
import { isCritical, machineStatus, type MachineStatus } from '../../../shared/codes.js';
import { readMachineSnapshot, type MachineSnapshot, type ServiceStatus } from '../../../shared/machine-state.js';
import { buildStatusData } from '../../../shared/status-message.js';
import { today, type BusinessDeps } from '../deps.js';
import { booksInventory, readStateView, type StateView } from './state-view.js';
import { confirmedAcceptors, inhibitedDenominations, sameAcceptors, type AcceptorState } from './acceptors.js';

const coinAcceptorCodes = [11, 12, 13];
const billAcceptorCodes = [21, 22, 23];
/** Raised for a cash event the agent cannot map (engine.ts): the acceptors stay off until a person clears it. */
export const acceptorStopCodes: readonly number[] = [6, 7, 8];

export function serviceStatusOf(s: MachineSnapshot, linkDown: boolean, acceptorsOn: boolean): ServiceStatus {
  if (linkDown) return { coin_acceptor: 'offline', bill_acceptor: 'offline', dispenser: 'offline', display: 'offline' };
  const acceptor = (codes: number[]) => (s.activeErrors.some((c) => codes.includes(c)) ? 'fault' : acceptorsOn ? 'operational' : 'offline');
  const dispenser = s.activeErrors.includes(41) || s.activeErrors.includes(42) ? 'fault' : s.activeErrors.includes(44) || s.activeAlarms.includes(1) ? 'degraded' : 'operational';
  return { coin_acceptor: acceptor(coinAcceptorCodes), bill_acceptor: acceptor(billAcceptorCodes), dispenser, display: 'operational' };
}

export class Condition {
  /** Whether set_acceptors was sent since start (the hardware may have restarted with its own idea). */
  private acceptorsSynced = false;
  /** The last set_acceptors queued, and when: resent after acceptorsResendSeconds while unconfirmed. */
  private lastSent: { state: AcceptorState; at: number; jobId: string } | null = null;
  private statusTimer: NodeJS.Timeout | null = null;

  constructor(private readonly core: BusinessDeps) {}

  snapshot(): Promise<MachineSnapshot> {
    return readMachineSnapshot(this.core.redis, this.core.keys, today(this.core));
  }

  /**
   * Re-derives status, acceptors and service status from `view` (read now
   * when not given); publishes status when the status changed.
   */
  async refresh(view?: StateView): Promise<MachineSnapshot> {
    const v = view ?? (await readStateView(this.core));
    const s = v.snapshot;
    const critical = s.activeErrors.some(isCritical);
    const remoteRunning = v.head?.purpose === 'remote' && v.head.state === 'sent';
    const status: MachineStatus = critical ? machineStatus.fault : remoteRunning ? machineStatus.remote : machineStatus.standby;
    const acceptors = !(s.locked || critical || s.doorOpen || s.activeErrors.some((c) => acceptorStopCodes.includes(c)));
    const c = this.core.config;
    const inhibited = inhibitedDenominations({
      accepted: c.acceptedDenominations,
      inventory: booksInventory(v),
      debt: s.counters.debt_coins,
      marginCoins: c.payoutMarginCoins,
      bonusTable: this.core.settings.current.bonusTable,
    });
    const desired: AcceptorState = { enabled: acceptors, inhibit: inhibited.map((i) => i.amount) };
    const confirmed = confirmedAcceptors(v.machine);
    const enabledNow = confirmed?.enabled ?? acceptors;
    const { status: statusStored, serviceStatus: serviceStored, inhibitReasons: reasonsStored } = v.machine;
    // Error 41 raised by the link (not by a hopper jam) means the hardware is unreachable.
    const linkDown = v.sources['error:41'] === 'link';
    const service = serviceStatusOf({ ...s, status }, linkDown, enabledNow);
    const next = {
      status: String(status),
      serviceStatus: JSON.stringify(service),
      inhibitReasons: JSON.stringify(Object.fromEntries(inhibited.map((i) => [i.amount, i.reason]))),
    };
    // Written only on change: every write is an fsync on the board's SD card (docs/durability.md).
    if (statusStored !== next.status || serviceStored !== next.serviceStatus || reasonsStored !== next.inhibitReasons) {
      await this.core.redis.hset(this.core.keys.machine, next);
    }
    await this.syncAcceptors(desired, confirmed);
    const snapshot = { ...s, status, acceptorsEnabled: enabledNow, inhibited, serviceStatus: service };
    if (statusStored !== next.status || (reasonsStored ?? '{}') !== next.inhibitReasons) {
      this.core.log.info({ from: statusStored ?? null, to: status }, 'machine status changed');
      await this.publishStatus(snapshot);
    }
    return snapshot;
  }

  /**
   * Queues set_acceptors when the hardware has not confirmed `desired`: at
   * once when it differs from what was last queued, else again after
   * acceptorsResendSeconds. Also once after start.
   */
  private async syncAcceptors(desired: AcceptorState, confirmed: AcceptorState | null): Promise<void> {
    if (this.acceptorsSynced && sameAcceptors(desired, confirmed)) return;
    const now = this.core.clock.now();
    const last = this.lastSent;
    if (this.acceptorsSynced && last && sameAcceptors(desired, last.state)) {
      if (now - last.at < this.core.config.acceptorsResendSeconds * 1000) return;
      // While the hardware app is down the same command would only pile up in the queue.
      if (await this.core.hardware.waiting(last.jobId)) return;
    }
    const jobId = await this.core.hardware.setAcceptors(desired.enabled, desired.inhibit);
    this.lastSent = { state: desired, at: now, jobId };
    this.acceptorsSynced = true;
    this.core.log.info({ desired, confirmed, resend: last !== null && sameAcceptors(desired, last.state) }, 'acceptors set');
  }

  async publishStatus(s?: MachineSnapshot): Promise<void> {
    const snap = s ?? (await this.snapshot());
    const { lowCoinWarning, lowCoinCritical } = this.core.settings.current;
    const data = buildStatusData(snap, { lowCoinWarning, lowCoinCritical, timestampFormat: this.core.config.timestampFormat });
    await this.core.publisher.sendUntracked(await this.core.publisher.envelope('status', data));
  }

  /** (Re)starts the periodic status message with the current `statusSeconds`. */
  scheduleStatus(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = setInterval(() => {
      this.publishStatus().catch((err) => this.core.log.warn({ err }, 'periodic status failed'));
    }, this.core.settings.current.statusSeconds * 1000);
    this.statusTimer.unref();
  }

  stop(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
  }
}
