/**
 * What the emulators (tools/board-emulator, tools/cctalk-emulator) share:
 * their line-based control channel (stdin and a UNIX socket, one JSON answer
 * per line) and, for tests and scripts, starting one as a child process and
 * talking to its socket; and the life of the emulator's serial port.
 */
import { spawn } from 'node:child_process';
import { realpathSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { SerialPort } from 'serialport';

export type ControlReply = { ok: true; [k: string]: unknown } | { ok: false; error: string };

/** A control argument that must be a whole number. */
export function wholeNumber(word: string | undefined, what: string): number {
  const n = Number(word);
  if (word === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${what}: expected a whole number, got ${word ?? 'nothing'}`);
  return n;
}

/** One control command: its arguments (the words after the command) → the answer. */
export type ControlHandler = (args: string[]) => ControlReply;

/**
 * Runs one control line: the first word picks the handler in `handlers`,
 * `help` answers `help`; anything a handler throws is the answer's error.
 */
export function dispatchControl(line: string, handlers: Readonly<Record<string, ControlHandler>>, help: readonly string[]): ControlReply {
  const [cmd = '', ...args] = line.trim().split(/\s+/);
  try {
    if (cmd === 'help') return { ok: true, help };
    const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
    if (!handler) throw new Error(`unknown command ${cmd}; try help`);
    return handler(args);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Answers control lines on stdin (`stdin`) and on the UNIX socket `socket`. */
export function serveControl(handle: (line: string) => ControlReply, o: { stdin: boolean; socket?: string; log: (line: string) => void }): void {
  const answer = (line: string): string => `${JSON.stringify(handle(line))}\n`;
  if (o.stdin) createInterface({ input: process.stdin }).on('line', (line) => line.trim() && process.stdout.write(answer(line)));
  if (o.socket) {
    rmSync(o.socket, { force: true });
    const server = createServer((sock) => {
      sock.on('error', () => undefined);
      createInterface({ input: sock }).on('line', (line) => line.trim() && sock.write(answer(line)));
    });
    server.on('error', (err) => o.log(`control socket error: ${err.message}`));
    server.listen(o.socket);
  }
}

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

export interface ControlledProcess {
  readonly pid: number;
  /** Sends one control line; rejects when the answer is not ok. */
  command(line: string): Promise<Extract<ControlReply, { ok: true }>>;
  /** Sends `signal` (default SIGKILL: the power is cut) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** What it wrote to stderr (its log). */
  output(): string;
}

/** Starts `node mainJs args…` and waits until its control socket answers `state`. */
export async function startControlled(name: string, mainJs: string, args: string[], socket: string, startTimeoutMs = 10_000): Promise<ControlledProcess> {
  const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  const command = async (line: string): Promise<Extract<ControlReply, { ok: true }>> => {
    const reply = await controlLine(socket, line);
    if (!reply.ok) throw new Error(`${name}: ${line}: ${reply.error}`);
    return reply;
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (dead) throw new Error(`${name} exited during start:\n${log}`);
    try {
      await command('state');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${name} did not answer within ${startTimeoutMs} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    pid: child.pid!,
    command,
    kill: async (signal = 'SIGKILL') => {
      if (!dead) child.kill(signal);
      await exited;
    },
    exited,
    output: () => log,
  };
}

/**
 * Opens the emulator's serial device: exits 2 when it cannot, 3 when the port
 * closes (the cable pulled), 0 after `onStop` on SIGTERM/SIGINT. With
 * `reopenMs`, a closed port is opened again every that many ms instead (the
 * host's adapter pulled while the devices keep their power and state).
 * `write` sends only while the port is open.
 */
export function runOnPort(o: {
  device: string;
  baudRate: number;
  log: (line: string) => void;
  reopenMs?: number;
  onData(chunk: Buffer): void;
  onOpen(): void;
  onStop(): void;
}): { write(bytes: Buffer): void } {
  // A fresh port object for every opening: one reopened after a hang-up can stay deaf.
  const newPort = (): SerialPort => {
    const p = new SerialPort({ path: o.device, baudRate: o.baudRate, autoOpen: false, lock: true });
    p.on('error', (err) => o.log(`port error: ${err.message}`));
    p.on('data', (chunk: Buffer) => o.onData(chunk));
    p.on('close', () => {
      if (o.reopenMs === undefined) {
        o.log('port closed; exiting');
        process.exit(3);
      }
      o.log('port closed; reopening');
      setTimeout(reopen, o.reopenMs);
    });
    return p;
  };
  let port = newPort();
  // What the device path named when it was opened: a pty pair made again (socat restarted) names a new
  // one while the old port may never see a hang-up, so a moved link is taken as the cable pulled.
  const target = (): string | null => {
    try {
      return realpathSync(o.device);
    } catch {
      return null;
    }
  };
  let openedAs = target();
  const reopen = (): void => {
    const next = newPort();
    next.open((err) => {
      if (err) return void setTimeout(reopen, o.reopenMs);
      port = next;
      openedAs = target();
      o.log(`${o.device} open again`);
    });
  };
  if (o.reopenMs !== undefined) {
    setInterval(() => {
      const now = target();
      if (port.isOpen && now !== null && now !== openedAs) {
        o.log(`${o.device} now names ${now}; reopening`);
        port.close();
      }
    }, Math.max(500, o.reopenMs * 5));
  }
  port.open((err) => {
    if (err) {
      o.log(`cannot open ${o.device}: ${err.message}`);
      process.exit(2);
    }
    openedAs = target();
    o.onOpen();
  });
  const stop = (): void => {
    o.onStop();
    port.removeAllListeners('close');
    if (port.isOpen) port.close(() => process.exit(0));
    else process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return { write: (bytes) => void (port.isOpen && port.write(bytes)) };
}
