/** Topic builders and parsers (docs/protocol.md#2-topics). */

/** Device → cloud message types that travel in an envelope. */
export const outboundTypes = ['accounting', 'transaction', 'error', 'alarm', 'heartbeat', 'status'] as const;
export type OutboundType = (typeof outboundTypes)[number];

/** Types the cloud must ACK (docs/protocol.md#2-topics). */
export const ackRequired: ReadonlySet<string> = new Set(['accounting', 'transaction', 'error', 'alarm']);

export const commandTypes = ['coin_dispense', 'restart', 'lock', 'query', 'config', 'clear_error'] as const;
export type CommandType = (typeof commandTypes)[number];

export function topics(prefix: string, deviceId: string) {
  return {
    outbound: (type: OutboundType) => `${prefix}/${type}/${deviceId}`,
    /** Command results (no ACK). The device must never read these back as input. */
    commandResult: `${prefix}/commands/${deviceId}/ack`,
    /** Cloud ACKs (inbound). */
    ack: `${prefix}/ack/${deviceId}`,
    command: (type: string) => `${prefix}/commands/${deviceId}/${type}`,
    /** The exact inbound subscriptions: no wildcard, so our own results never come back. */
    subscriptions: (): string[] => [`${prefix}/ack/${deviceId}`, ...commandTypes.map((t) => `${prefix}/commands/${deviceId}/${t}`)],
  };
}
export type Topics = ReturnType<typeof topics>;

export type InboundTopic =
  | { kind: 'ack' }
  | { kind: 'command'; commandType: string }
  | { kind: 'command-result' }
  | { kind: 'other' };

/** Classifies an inbound topic for this device. */
export function parseInboundTopic(topic: string, prefix: string, deviceId: string): InboundTopic {
  const parts = topic.split('/');
  if (parts[0] !== prefix) return { kind: 'other' };
  if (parts.length === 3 && parts[1] === 'ack' && parts[2] === deviceId) return { kind: 'ack' };
  if (parts.length === 4 && parts[1] === 'commands' && parts[2] === deviceId) {
    return parts[3] === 'ack' ? { kind: 'command-result' } : { kind: 'command', commandType: parts[3]! };
  }
  return { kind: 'other' };
}
