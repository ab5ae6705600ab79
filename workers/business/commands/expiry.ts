/**
 * Command expiry (docs/protocol.md#repeats-and-expiry): a command older than the configured age
 * (default 300 s) or past its `data.timeout_seconds` is not executed. Age
 * counts from the command's `timestamp`, or, for an unsigned command without
 * one, from when the device received it (so a command that waited in the
 * queue while the business app was down still lapses).
 */
import { parseTimestamp } from '../../../shared/clock.js';
import { CommandError } from '../../../shared/errors.js';
import type { Command } from './parse.js';

/** When a command's age starts: its `timestamp`, else its receipt. */
const originOf = (command: Command, receivedAt: number): number => (command.timestamp === undefined ? null : parseTimestamp(command.timestamp)) ?? receivedAt;

export function expiryError(command: Command, receivedAt: number, now: number, maxAgeSeconds: number): CommandError | null {
  const origin = originOf(command, receivedAt);
  const maxAgeMs = maxAgeSeconds * 1000;
  // A timestamp far ahead of our clock would stretch the replay window; the same tolerance applies both ways.
  if (origin - now > maxAgeMs) return new CommandError('EXPIRED', `timestamp is ${Math.round((origin - now) / 1000)} s in the future`);
  if (now - origin > maxAgeMs) return new CommandError('EXPIRED', `command is ${Math.round((now - origin) / 1000)} s old (limit ${maxAgeSeconds} s)`);
  const timeout = command.data?.timeout_seconds;
  if (typeof timeout === 'number' && now - origin > timeout * 1000) {
    return new CommandError('EXPIRED', `timeout_seconds ${timeout} passed`);
  }
  return null;
}

/**
 * The moment a command stops being worth executing (the guide's 超時命令自動取消):
 * its `data.timeout_seconds`, else `defaultSeconds`, counted like expiry. A
 * dispense that has not started by then is cancelled.
 */
export function deadlineOf(command: Command, receivedAt: number, defaultSeconds: number): number {
  const timeout = command.data?.timeout_seconds;
  return originOf(command, receivedAt) + (typeof timeout === 'number' ? timeout : defaultSeconds) * 1000;
}
