/**
 * Starts the ccTalk emulator as a child process and talks to its control
 * socket: for tests and scripts that need ccTalk devices on a pty.
 */
import { fileURLToPath } from 'node:url';
import { startControlled, type ControlledProcess } from '../emulator-control.js';
import type { CctalkEmulator } from './emulator.js';

export interface CctalkEmulatorProcess extends ControlledProcess {
  state(): Promise<ReturnType<CctalkEmulator['state']>>;
}

const mainJs = fileURLToPath(new URL('./main.js', import.meta.url));

/** `args`: main.ts's options besides --device and --control, e.g. ['--inventory', '500']. */
export async function startCctalkEmulator(device: string, control: string, args: string[] = [], startTimeoutMs = 10_000): Promise<CctalkEmulatorProcess> {
  const p = await startControlled('cctalk emulator', mainJs, ['--device', device, '--control', control, ...args], control, startTimeoutMs);
  return { ...p, state: async () => (await p.command('state')).state as ReturnType<CctalkEmulator['state']> };
}
