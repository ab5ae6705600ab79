/**
 * Builds heartbeat and status messages (docs/protocol.md#heartbeat) and sends
 * them through the direct-send policy. The last heartbeat sent, without its
 * diagnostics, is kept: it is the base of the last will and of the offline
 * heartbeat of a graceful stop.
 */
import type { Logger } from 'pino';
import { localDay } from '../../shared/clock.js';
import { buildEnvelope, plainEnvelope, type EnvelopeContext } from '../../shared/envelope.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import type { HeartbeatData } from '../../shared/messages.js';
import type { RuntimeSettings } from '../../shared/config.js';
import { buildStatusData } from '../../shared/status-message.js';
import type { DirectSend } from './direct-send.js';
import { buildHeartbeatData, type HeartbeatSources } from './heartbeat.js';

export interface HeartbeatSenderParts {
  sources: HeartbeatSources;
  envelope: Omit<EnvelopeContext, 'seq'>;
  topics: { heartbeat: string; status: string };
  timezone: string;
  settings: () => RuntimeSettings;
}

export class HeartbeatSender {
  private constructor(
    private readonly parts: HeartbeatSenderParts,
    private last: HeartbeatData,
  ) {}

  static async create(parts: HeartbeatSenderParts): Promise<HeartbeatSender> {
    return new HeartbeatSender(parts, await buildHeartbeatData(parts.sources, { diagnostics: false }));
  }

  /** The payload announcing this device offline: the last heartbeat with `status: offline`. */
  offlinePayload(): string {
    return JSON.stringify(plainEnvelope(this.parts.envelope, 'heartbeat', { ...this.last, status: 'offline' }));
  }

  async sendHeartbeat(send: DirectSend, diagnostics: boolean): Promise<void> {
    const data = await buildHeartbeatData(this.parts.sources, { diagnostics });
    const { diagnostics: _omitted, ...base } = data;
    this.last = base;
    await send('heartbeat', this.parts.topics.heartbeat, JSON.stringify(await buildEnvelope(this.parts.envelope, 'heartbeat', data)));
  }

  async sendStatus(send: DirectSend): Promise<void> {
    const { redis, keys, clock } = this.parts.sources;
    const { lowCoinWarning, lowCoinCritical } = this.parts.settings();
    const snapshot = await readMachineSnapshot(redis, keys, localDay(clock.now(), this.parts.timezone));
    const data = buildStatusData(snapshot, { lowCoinWarning, lowCoinCritical, timestampFormat: this.parts.envelope.timestampFormat });
    await send('status', this.parts.topics.status, JSON.stringify(await buildEnvelope(this.parts.envelope, 'status', data)));
  }
}

/** The periodic heartbeat: the next one an interval after the previous one ended, until stopped. */
export class HeartbeatTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private intervalMs = 0;

  constructor(
    private readonly beat: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** (Re)starts the period from now: after a connect, or with a new interval setting. */
  restart(intervalMs = this.intervalMs): void {
    this.intervalMs = intervalMs;
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.beat()
        .catch((err) => this.log.error({ err }, 'heartbeat failed'))
        .finally(() => this.restart());
    }, intervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
