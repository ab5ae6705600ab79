/** Queue names (docs/architecture.md#queues), defined once. */
export const queueNames = {
  /** hardware → business: normalized hardware events. */
  hwEvents: 'hw-events',
  /** business → hardware: payout, acceptors, display, status. */
  hwCommands: 'hw-commands',
  /** business → mqtt: messages to publish. */
  outbox: 'outbox',
  /** mqtt → business: inbound cloud commands. */
  commands: 'commands',
  /** business-internal: the `coin_dispense` commands, moved off `commands` so nothing waits behind a payout. */
  commandsDispense: 'commands-dispense',
  /** CLI → hardware: simulator actions. */
  control: 'control',
  /** business-internal: the daily-close job scheduler (local midnight, for the day that ended). */
  businessSchedule: 'business-schedule',
} as const;
export type QueueName = (typeof queueNames)[keyof typeof queueNames];
export const allQueueNames: readonly QueueName[] = Object.values(queueNames);
