/**
 * Starts the ccTalk emulator as a child process and talks to its control
 * socket: for tests and scripts that need ccTalk devices on a pty.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { controlLine } from '../board-emulator/client.js';
import type { ControlReply, CctalkEmulator } from './emulator.js';

export interface CctalkEmulatorProcess {
  /** Sends one control line; rejects when the answer is not ok. */
  command(line: string): Promise<Extract<ControlReply, { ok: true }>>;
  state(): Promise<ReturnType<CctalkEmulator['state']>>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

const mainJs = fileURLToPath(new URL('./main.js', import.meta.url));

/** `args`: main.ts's options besides --device and --control, e.g. ['--inventory', '500']. */
export async function startCctalkEmulator(device: string, control: string, args: string[] = [], startTimeoutMs = 10_000): Promise<CctalkEmulatorProcess> {
  const child = spawn(process.execPath, [mainJs, '--device', device, '--control', control, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  const command = async (line: string): Promise<Extract<ControlReply, { ok: true }>> => {
    const reply = (await controlLine(control, line)) as ControlReply;
    if (!reply.ok) throw new Error(`cctalk emulator: ${line}: ${reply.error}`);
    return reply;
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (dead) throw new Error(`cctalk emulator exited during start:\n${log}`);
    try {
      await command('state');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`cctalk emulator did not answer within ${startTimeoutMs} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    command,
    state: async () => (await command('state')).state as ReturnType<CctalkEmulator['state']>,
    kill: async (signal = 'SIGKILL') => {
      if (!dead) child.kill(signal);
      await exited;
    },
    output: () => log,
  };
}
