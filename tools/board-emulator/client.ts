/**
 * Starts the board emulator as a child process and talks to its control
 * socket: for tests and scripts that need a board on a pty.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ControlReply } from './control.js';
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

export interface EmulatorProcess {
  readonly pid: number;
  /** Sends one control line; rejects when the answer is not ok. */
  command(line: string): Promise<Extract<ControlReply, { ok: true }>>;
  /** The board's state and what it received. */
  state(): Promise<{ state: BoardState; received: Record<string, number> }>;
  /** Sends `signal` (default SIGKILL: the power is cut) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** What the emulator wrote to stderr (its log). */
  output(): string;
}

const mainJs = fileURLToPath(new URL('./main.js', import.meta.url));

export function controlLine(socket: string, line: string): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socket);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(`${line}\n`));
    const lines = createInterface({ input: sock });
    lines.on('error', reject);
    lines.on('close', () => reject(new Error(`control socket closed before answering ${line}`)));
    lines.once('line', (answer) => {
      sock.end();
      resolve(JSON.parse(answer) as ControlReply);
    });
  });
}

export async function startEmulator(o: EmulatorOptions): Promise<EmulatorProcess> {
  const args = [mainJs, '--device', o.device, '--state', o.stateFile, '--control', o.control];
  if (o.coinMs !== undefined) args.push('--coin-ms', String(o.coinMs));
  if (o.eventRetryMs !== undefined) args.push('--event-retry-ms', String(o.eventRetryMs));
  if (o.inventory !== undefined) args.push('--inventory', String(o.inventory));
  if (o.lowLevel !== undefined) args.push('--low-level', String(o.lowLevel));
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));

  const command = async (line: string): Promise<Extract<ControlReply, { ok: true }>> => {
    const reply = await controlLine(o.control, line);
    if (!reply.ok) throw new Error(`emulator: ${line}: ${reply.error}`);
    return reply;
  };

  const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
  for (;;) {
    if (dead) throw new Error(`board emulator exited during start:\n${log}`);
    try {
      await command('state');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`board emulator did not answer within ${o.startTimeoutMs ?? 10_000} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  return {
    pid: child.pid!,
    command,
    state: async () => (await command('state')) as unknown as { state: BoardState; received: Record<string, number> },
    kill: async (signal = 'SIGKILL') => {
      if (!dead) child.kill(signal);
      await exited;
    },
    exited,
    output: () => log,
  };
}
