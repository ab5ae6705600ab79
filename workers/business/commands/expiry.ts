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

export function expiryError(command: Command, receivedAt: number, now: number, maxAgeSeconds: number): CommandError | null {
  const stamped = command.timestamp === undefined ? null : parseTimestamp(command.timestamp);
  const origin = stamped ?? receivedAt;
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
