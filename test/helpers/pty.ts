/**
 * A virtual serial cable: socat joins two ptys and links them as
 * `<dir>/agent` and `<dir>/board` (docs/pitfalls.md#5-serialport). Killing socat is pulling
 * the cable: both ends see their port close (`disconnected`). `start()`
 * plugs a new cable in at the same paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './env.js';

export const SOCAT = '/usr/bin/socat';

export interface PtyPair {
  /** Temp folder holding the links (and whatever else the test puts there). */
  readonly dir: string;
  /** The agent's end. */
  readonly agentPath: string;
  /** The board's end. */
  readonly boardPath: string;
  /** Starts socat (again) and waits until both ends exist. */
  start(): Promise<void>;
  /** Kills socat (SIGKILL by default: the cable is yanked) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills socat and removes the folder. */
  dispose(): Promise<void>;
}

/** True when the link resolves to a live pty. */
function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export async function ptyPair(opts: { dir?: string; timeoutMs?: number } = {}): Promise<PtyPair> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'coinerex-pty-'));
  const agentPath = join(dir, 'agent');
  const boardPath = join(dir, 'board');
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    child = null;
  };

  const start = async (): Promise<void> => {
    await kill();
    // A SIGKILLed socat leaves its links behind, pointing at ptys that may be reused.
    rmSync(agentPath, { force: true });
    rmSync(boardPath, { force: true });
    let stderr = '';
    const c = spawn(SOCAT, [`pty,raw,echo=0,link=${agentPath}`, `pty,raw,echo=0,link=${boardPath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    child = c;
    await waitFor(
      () => {
        if (c.exitCode !== null) throw new Error(`socat exited ${c.exitCode}: ${stderr}`);
        return exists(agentPath) && exists(boardPath);
      },
      opts.timeoutMs ?? 5000,
      'the socat pty links',
      10,
    );
  };

  await start();
  return {
    dir,
    agentPath,
    boardPath,
    start,
    kill,
    dispose: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
