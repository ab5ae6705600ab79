/**
 * Routes every inbound MQTT message by topic (docs/protocol.md#2-topics). The device's
 * own command results (`…/commands/{id}/ack`) are ignored defensively: they
 * are neither commands nor ACKs, even if a broker or a future wildcard
 * subscription delivers them back.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../../shared/clock.js';
import type { Metrics } from '../../../shared/metrics.js';
import { parseInboundTopic } from '../../../shared/topics.js';
import type { CommandJob } from '../../../queue/jobs.js';
import { parseAck, type AckVerdict } from './ack.js';
import { toCommandJob } from './command.js';
import type { TokenBucket } from '../../../shared/token-bucket.js';
import { oversized } from './size-limit.js';

export interface InboundDeps {
  topicPrefix: string;
  deviceId: string;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /**
   * Inbound commands beyond this rate are dropped before any work is spent on them: a real cloud sends a
   * few a minute, and a flood (forged or runaway) must not starve the exchange path. A dropped command gets
   * no answer; the cloud's retry with the same command_id is safe (docs/protocol.md#repeats-and-expiry).
   */
  commandBucket: TokenBucket;
  onAck(ack: AckVerdict): Promise<void>;
  enqueueCommand(job: CommandJob): Promise<void>;
}

export function inboundRouter(inbound: InboundDeps): (topic: string, payload: Buffer) => void {
  const fail = (what: string) => (err: unknown) => inbound.log.error({ err }, what);
  let warnedAt = -Infinity;
  let warnedOversizedAt = -Infinity;
  /** Counts and drops an oversized payload (one warning a minute); true when dropped. */
  const dropOversized = (topic: string, payload: Buffer, what: 'command' | 'ack'): boolean => {
    if (!oversized(payload)) return false;
    inbound.metrics.incr(what === 'command' ? 'commands_oversized_total' : 'acks_oversized_total');
    if (inbound.clock.now() - warnedOversizedAt > 60_000) {
      warnedOversizedAt = inbound.clock.now();
      inbound.log.warn({ topic, bytes: payload.length }, `oversized ${what} dropped unparsed`);
    }
    return true;
  };
  return (topic, payload) => {
    const route = parseInboundTopic(topic, inbound.topicPrefix, inbound.deviceId);
    switch (route.kind) {
      case 'ack': {
        if (dropOversized(topic, payload, 'ack')) return;
        const r = parseAck(payload);
        if (!r.ok) {
          inbound.metrics.incr('acks_invalid_total');
          inbound.log.warn({ reason: r.reason, bytes: payload.length }, 'invalid ACK ignored');
          return;
        }
        if (r.ack.unknownStatus) {
          inbound.metrics.incr('acks_unknown_status_total');
          inbound.log.warn({ status: r.ack.status.slice(0, 100), messageId: r.ack.id }, 'ACK with a status the protocol does not define: settles as received');
        }
        void inbound.onAck(r.ack).catch(fail('handling an ACK failed'));
        return;
      }
      case 'command': {
        if (!inbound.commandBucket.take()) {
          inbound.metrics.incr('commands_rate_limited_total');
          if (inbound.clock.now() - warnedAt > 60_000) {
            warnedAt = inbound.clock.now();
            inbound.log.warn({ topic }, 'inbound commands over the rate limit (COINEREX_COMMAND_RATE_LIMIT): dropping the excess');
          }
          return;
        }
        if (dropOversized(topic, payload, 'command')) return;
        const r = toCommandJob(topic, route.commandType, payload, inbound.clock.now());
        if (!r.ok) {
          inbound.metrics.incr('commands_invalid_json_total');
          inbound.log.warn({ topic, bytes: payload.length }, 'command is not JSON; ignored');
          return;
        }
        void inbound.enqueueCommand(r.job).catch(fail('enqueueing a command failed'));
        return;
      }
      case 'command-result':
        inbound.log.debug({ topic }, 'own command result received back; ignored');
        return;
      default:
        inbound.log.debug({ topic }, 'message on an unexpected topic; ignored');
    }
  };
}
