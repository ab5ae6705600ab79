/**
 * Starts the board emulator as a child process and talks to its control
 * socket: for tests and scripts that need a board on a pty.
 */
import { fileURLToPath } from 'node:url';
import { startControlled, type ControlledProcess } from '../emulator-control.js';
import type { BoardState } from './state.js';

export interface EmulatorOptions {
  /** The board's end of the pty pair. */
  device: string;
  stateFile: string;
  /** UNIX socket path for control commands. */
  control: string;
  coinMs?: number;
  eventRetryMs?: number;
  /** Hopper count on first start (no state file yet). */
  inventory?: number;
  lowLevel?: number;
  /** Waits this long for the emulator to answer, ms. Default 10000. */
  startTimeoutMs?: number;
}

export interface EmulatorProcess extends ControlledProcess {
  /** The board's state and what it received. */
  state(): Promise<{ state: BoardState; received: Record<string, number> }>;
}

const mainJs = fileURLToPath(new URL('./main.js', import.meta.url));

export async function startEmulator(o: EmulatorOptions): Promise<EmulatorProcess> {
  const args = ['--device', o.device, '--state', o.stateFile, '--control', o.control];
  if (o.coinMs !== undefined) args.push('--coin-ms', String(o.coinMs));
  if (o.eventRetryMs !== undefined) args.push('--event-retry-ms', String(o.eventRetryMs));
  if (o.inventory !== undefined) args.push('--inventory', String(o.inventory));
  if (o.lowLevel !== undefined) args.push('--low-level', String(o.lowLevel));
  const p = await startControlled('board emulator', mainJs, args, o.control, o.startTimeoutMs);
  return {
    ...p,
    state: async () => (await p.command('state')) as unknown as { state: BoardState; received: Record<string, number> },
  };
}
