/**
 * Command expiry (docs/protocol.md#repeats-and-expiry): a command older than the configured age
 * (default 300 s) or past its `data.timeout_seconds` is not executed. Age
 * counts from the command's `timestamp`, or, for an unsigned command without
 * one, from when the device received it (so a command that waited in the
 * queue while the business app was down still lapses).
 *
 * An EXPIRED result of a stamped command states the clock difference it
 * measured (`clock_difference_seconds`, device clock minus the command's
 * timestamp), so a cloud whose clock or time zone is off is diagnosed from
 * one result: the guide's "Unix timestamp (秒, UTC+8)" tempts clouds into
 * shifting Unix time by 8 hours (docs/cloud-interop.md).
 */
import { parseTimestamp } from '../../../shared/clock.js';
import { CommandError } from '../../../shared/errors.js';
import type { Command } from './parse.js';

const HOURS_8 = 8 * 3600;

/** The hint for a difference close to a whole-hour zone shift. */
function zoneHint(diffSeconds: number): string {
  const hours = Math.round(diffSeconds / 3600);
  if (hours === 0 || Math.abs(diffSeconds - hours * 3600) > 120) return '';
  const which = Math.abs(hours * 3600) === HOURS_8 ? '8 hours: Unix time must not be shifted for UTC+8' : `${Math.abs(hours)} hours: a time zone applied to Unix time?`;
  return `; about ${which}`;
}

/** The command's own `timestamp`, when it has a readable one. */
const stampOf = (command: Command): number | null => (command.timestamp === undefined ? null : parseTimestamp(command.timestamp));

export function expiryError(command: Command, receivedAt: number, now: number, maxAgeSeconds: number): CommandError | null {
  const stamped = stampOf(command);
  const origin = stamped ?? receivedAt;
  const maxAgeMs = maxAgeSeconds * 1000;
  const diff = Math.round((now - origin) / 1000);
  const facts = stamped === null ? {} : { clock_difference_seconds: diff, max_age_seconds: maxAgeSeconds };
  const measured = stamped === null ? '' : ` (device clock minus command timestamp: ${diff} s${zoneHint(diff)})`;
  // A timestamp far ahead of our clock would stretch the replay window; the same tolerance applies both ways.
  if (origin - now > maxAgeMs) return new CommandError('EXPIRED', `timestamp is ${-diff} s in the future, limit ${maxAgeSeconds} s${measured}`, facts);
  if (now - origin > maxAgeMs) return new CommandError('EXPIRED', `command is ${diff} s old, limit ${maxAgeSeconds} s${measured}`, facts);
  const timeout = command.data?.timeout_seconds;
  if (typeof timeout === 'number' && now - origin > timeout * 1000) {
    return new CommandError('EXPIRED', `timeout_seconds ${timeout} passed${measured}`, facts);
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
  return (stampOf(command) ?? receivedAt) + (typeof timeout === 'number' ? timeout : defaultSeconds) * 1000;
}
