/**
 * The ccTalk machine of `npm run chaos -- --hardware cctalk`: the ccTalk
 * emulator (coin acceptor, bill validator with escrow, hopper) on one end of
 * a socat pty, the agent's ccTalk driver on the other. Customers act through
 * the emulator's controls; its counts (coins accepted, bills stacked, coins
 * the hopper paid and was loaded with) are the physical truth. The emulator
 * runs with --reopen, so pulling the cable (socat killed) keeps its state.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlJob } from '../queue/index.js';
import type { PhysicalTruth } from '../shared/physical-truth.js';
import { startCctalkEmulator, type CctalkEmulatorProcess } from '../tools/cctalk-emulator/client.js';
import { ptyPair, type PtyPair } from '../test/helpers/pty.js';
import type { ChaosMachine } from './machine.js';

export const cctalkDevices = ['coin', 'bill', 'hopper'] as const;
export type CctalkDevice = (typeof cctalkDevices)[number];

/** Fault codes the driver raises for a silent device (docs/cctalk.md "Events"); clearing one means plugging it back. */
const silentCode: Record<CctalkDevice, number> = { coin: 13, bill: 21, hopper: 41 };

/** A customer waits this long for the slot (escrow busy, acceptor's buffer not yet read) before walking away, ms. */
const SLOT_WAIT_MS = 15_000;
/** Unread events an acceptor may hold before a customer waits: its buffer keeps 5, a bill makes 2. */
const MAX_UNREAD = 3;

type EmulatorState = Awaited<ReturnType<CctalkEmulatorProcess['state']>>;

export interface CctalkMachine extends ChaosMachine {
  /** COINEREX_* settings that put the agent on this bus. */
  readonly env: Record<string, string>;
  readonly pty: PtyPair;
  /** Pulls the host's adapter for `ms` and plugs it back; the devices keep power. */
  pullCable(ms: number): Promise<void>;
  command(line: string): Promise<Record<string, unknown>>;
  /** Runs `f` while no customer inserts anything, once both acceptors' buffers were read (a device reset then loses no credit). */
  quietly<T>(f: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function cctalkMachine(dir: string, initialInventory: number): Promise<CctalkMachine> {
  const ptyDir = join(dir, 'cctalk');
  await mkdir(ptyDir, { recursive: true });
  const pty = await ptyPair({ dir: ptyDir });
  let emulator: CctalkEmulatorProcess;
  try {
    emulator = await startCctalkEmulator(pty.boardPath, join(ptyDir, 'control.sock'), ['--inventory', String(initialInventory), '--coin-ms', '10', '--reopen']);
  } catch (err) {
    await pty.dispose();
    throw err;
  }
  const command = async (line: string) => await emulator.command(line);
  // One customer at the slots at a time: the waits below read the state, then insert.
  let slot: Promise<unknown> = Promise.resolve();
  const serially = <T>(f: () => Promise<T>): Promise<T> => {
    const run = slot.then(f, f);
    slot = run.catch(() => undefined);
    return run;
  };
  const waitState = async (ready: (s: EmulatorState) => boolean, deadline = Date.now() + SLOT_WAIT_MS): Promise<boolean> => {
    while (!ready(await emulator.state())) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  };
  const insert = (job: Extract<ControlJob, { action: 'bill' | 'coin' }>) => {
    // The wait counts from arrival: a queue of customers does not wait in turn for a dead slot.
    const deadline = Date.now() + SLOT_WAIT_MS;
    return serially(async () => {
      const ready = job.action === 'coin' ? (s: EmulatorState) => s.coin.unread <= MAX_UNREAD : (s: EmulatorState) => s.bill.escrow === 0 && s.bill.unread <= MAX_UNREAD;
      if (!(await waitState(ready, deadline))) throw new Error(`${job.action} slot busy for ${SLOT_WAIT_MS} ms: the customer walked away`);
      await command(`${job.action} ${job.amount}`);
    });
  };
  const clear = async (code: number): Promise<void> => {
    for (const d of cctalkDevices) if (silentCode[d] === code) await command(`plug ${d}`);
    if (code === 41) await command('unjam');
  };

  return {
    hardware: 'cctalk',
    hopperCounts: false,
    env: { COINEREX_HARDWARE: 'cctalk', COINEREX_CCTALK_PATH: pty.agentPath, COINEREX_CCTALK_POLL_MS: '100', COINEREX_CCTALK_TIMEOUT_MS: '200' },
    pty,
    async pullCable(ms) {
      await pty.kill();
      // The device nodes go with the adapter: neither end may reopen a dead pty (or one another process got since).
      await Promise.all([rm(pty.agentPath, { force: true }), rm(pty.boardPath, { force: true })]);
      await sleep(ms);
      await pty.start();
    },
    command,
    quietly: (f) => serially(async () => (await waitState((s) => s.coin.unread === 0 && s.bill.unread === 0)) ? f() : Promise.reject(new Error('acceptor buffers not read in time'))),
    async act(job) {
      switch (job.action) {
        case 'bill':
        case 'coin':
          return insert(job);
        case 'refill':
          return void (await command(`load ${job.coins}`));
        case 'jam':
          return void (await command('jam'));
        case 'clear':
          return clear(job.code);
        // The peripherals have no door switch and take no simulator faults.
        case 'door':
        case 'fault':
          return;
      }
    },
    async truth() {
      return truthOf(await emulator.state(), initialInventory);
    },
    async close() {
      await emulator.kill('SIGTERM');
      await pty.dispose();
    },
  };
}

function truthOf(s: EmulatorState, initialInventory: number): PhysicalTruth {
  const count = <V extends number>(values: readonly number[], of: readonly V[]) => Object.fromEntries(of.map((v) => [v, values.filter((x) => x === v).length])) as Record<V, number>;
  const bills = count(s.bill.stacked, [100, 200, 500, 1000, 2000] as const);
  const coins = count(s.coin.accepted, [1, 5, 10, 50] as const);
  const ntd = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  const silent = (Object.entries(silentCode) as Array<[CctalkDevice, number]>).filter(([d]) => s[d].unplugged).map(([, code]) => code);
  const activeFaults = [...new Set([...silent, ...(s.hopper.flags !== 0 ? [41] : [])])].sort((a, b) => a - b);
  return {
    initialized: true,
    inventory: s.hopper.coins,
    initialInventory,
    refilled: s.hopper.loaded,
    dispensed: s.hopper.dispensed,
    bills,
    coins,
    coins50: coins[50],
    billsNtd: ntd(s.bill.stacked),
    coinsNtd: ntd(s.coin.accepted),
    doorOpen: false,
    acceptorsEnabled: s.coin.accepting && s.bill.accepting,
    inhibit: [],
    display: '',
    activeFaults,
    jamArmed: false,
    // The simulator's power-cut model; a ccTalk hopper's power cut is the emulator's own fault.
    powerCut: null,
    countLost: false,
  };
}
