/**
 * The machine's derived condition: status code (docs/protocol.md#1-money-and-machine-facts), acceptors,
 * per-function service status, and the `status` message on every status
 * change and every `statusSeconds`.
 *
 *  - status 4 (fault) while a critical error is active; else 3 (remote)
 *    while a remote payout is running; else 1 (standby).
 *  - acceptors off while locked, while a critical error is active, or while
 *    the door is open; on otherwise.
 */
import { isCritical, machineStatus, type MachineStatus } from '../../../shared/codes.js';
import { readMachineSnapshot, type MachineSnapshot, type ServiceStatus } from '../../../shared/machine-state.js';
import { buildStatusData } from '../../../shared/status-message.js';
import { today, type BusinessDeps } from '../deps.js';
import { readStateView, type StateView } from './state-view.js';

const coinAcceptorCodes = [11, 12, 13];
const billAcceptorCodes = [21, 22, 23];

export function serviceStatusOf(s: MachineSnapshot, linkDown: boolean, acceptorsOn: boolean): ServiceStatus {
  if (linkDown) return { coin_acceptor: 'offline', bill_acceptor: 'offline', dispenser: 'offline', display: 'offline' };
  const acceptor = (codes: number[]) => (s.activeErrors.some((c) => codes.includes(c)) ? 'fault' : acceptorsOn ? 'operational' : 'offline');
  const dispenser = s.activeErrors.includes(41) || s.activeErrors.includes(42) ? 'fault' : s.activeErrors.includes(44) || s.activeAlarms.includes(1) ? 'degraded' : 'operational';
  return { coin_acceptor: acceptor(coinAcceptorCodes), bill_acceptor: acceptor(billAcceptorCodes), dispenser, display: 'operational' };
}

export class Condition {
  /** Whether set_acceptors was sent since start (the hardware may have restarted with its own idea). */
  private acceptorsSynced = false;
  private statusTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: BusinessDeps) {}

  snapshot(): Promise<MachineSnapshot> {
    return readMachineSnapshot(this.d.redis, this.d.keys, today(this.d));
  }

  /**
   * Re-derives status, acceptors and service status from `view` (read now
   * when not given); publishes status when the status changed.
   */
  async refresh(view?: StateView): Promise<MachineSnapshot> {
    const v = view ?? (await readStateView(this.d));
    const s = v.snapshot;
    const critical = s.activeErrors.some(isCritical);
    const remoteRunning = v.head?.purpose === 'remote' && v.head.state === 'sent';
    const status: MachineStatus = critical ? machineStatus.fault : remoteRunning ? machineStatus.remote : machineStatus.standby;
    const acceptors = !(s.locked || critical || s.doorOpen);
    const { status: statusStored, acceptorsEnabled: acceptorsStored, serviceStatus: serviceStored } = v.machine;
    // Error 41 raised by the link (not by a hopper jam) means the hardware is unreachable.
    const linkDown = v.sources['error:41'] === 'link';
    const service = serviceStatusOf({ ...s, status }, linkDown, acceptors);
    const next = { status: String(status), acceptorsEnabled: acceptors ? '1' : '0', serviceStatus: JSON.stringify(service) };
    // Written only on change: every write is an fsync on the board's SD card (docs/durability.md).
    if (statusStored !== next.status || acceptorsStored !== next.acceptorsEnabled || serviceStored !== next.serviceStatus) {
      await this.d.redis.hset(this.d.keys.machine, next);
    }
    if (acceptors !== s.acceptorsEnabled || !this.acceptorsSynced) {
      await this.d.hardware.setAcceptors(acceptors);
      this.acceptorsSynced = true;
      this.d.log.info({ acceptors }, 'acceptors set');
    }
    const snapshot = { ...s, status, acceptorsEnabled: acceptors, serviceStatus: service };
    if (statusStored !== next.status) {
      this.d.log.info({ from: statusStored ?? null, to: status }, 'machine status changed');
      await this.publishStatus(snapshot);
    }
    return snapshot;
  }

  /** Forces set_acceptors on the next refresh (the hardware reported a different state). */
  resyncAcceptors(): void {
    this.acceptorsSynced = false;
  }

  async publishStatus(s?: MachineSnapshot): Promise<void> {
    const snap = s ?? (await this.snapshot());
    const { lowCoinWarning, lowCoinCritical } = this.d.settings.current;
    const data = buildStatusData(snap, { lowCoinWarning, lowCoinCritical, timestampFormat: this.d.config.timestampFormat });
    await this.d.publisher.sendUntracked(await this.d.publisher.envelope('status', data));
  }

  /** (Re)starts the periodic status message with the current `statusSeconds`. */
  scheduleStatus(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = setInterval(() => {
      this.publishStatus().catch((err) => this.d.log.warn({ err }, 'periodic status failed'));
    }, this.d.settings.current.statusSeconds * 1000);
    this.statusTimer.unref();
  }

  stop(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
  }
}
