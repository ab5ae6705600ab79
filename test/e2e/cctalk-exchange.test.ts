/**
 * Exchanges over ccTalk peripherals (docs/cctalk.md): the `hardware`,
 * `business` and `mqtt` apps under PM2, the ccTalk driver on one end of a
 * socat pty, the ccTalk emulator process (coin acceptor, bill validator with
 * escrow, hopper) on the other, a cloud peer on the broker. Four exchanges
 * of the guide, a hopper power cut in the middle of a payout (the rest paid
 * exactly once, in the same transaction), a bill handed back from escrow
 * while the hopper is gone, and the cable pulled and plugged back.
 */
import test, { type ExecutionContext } from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { transactionDataSchema } from '../../shared/messages.js';
import { startCctalkEmulator, type CctalkEmulatorProcess } from '../../tools/cctalk-emulator/client.js';
import { cloudPeer, type CloudPeer, type Received } from '../helpers/cloud-peer.js';
import { cleanupRedis, testEnv, waitFor } from '../helpers/env.js';
import { startStack, type Pm2Stack } from '../helpers/pm2.js';
import { ptyPair } from '../helpers/pty.js';

const INVENTORY = 500;
const COIN_MS = 15;

const fault = (code: number, state: 'raised' | 'cleared') => (r: Received) =>
  r.type === 'error' && r.payload?.data?.error_code === code && r.payload.data.state === state;

async function logPm2(t: ExecutionContext, stack: Pm2Stack | undefined): Promise<void> {
  if (!stack) return;
  const dir = join(stack.home, 'logs');
  for (const f of await readdir(dir).catch(() => [])) t.log(`--- ${f}\n${(await readFile(join(dir, f), 'utf8')).slice(-4000)}`);
}

test('exchanges over ccTalk under PM2: every denomination, a hopper power cut mid-payout, an escrow return, a cable pull', async (t) => {
  t.timeout(110_000);
  const pty = await ptyPair();
  const emuArgs = ['--inventory', String(INVENTORY), '--coin-ms', String(COIN_MS), '--baud', '9600'];
  let emu: CctalkEmulatorProcess = await startCctalkEmulator(pty.boardPath, join(pty.dir, 'cctalk.sock'), emuArgs);
  const env = testEnv({
    COINEREX_HARDWARE: 'cctalk',
    COINEREX_CCTALK_PATH: pty.agentPath,
    COINEREX_CCTALK_POLL_MS: '40',
    COINEREX_CCTALK_TIMEOUT_MS: '100',
  });
  let cloud: CloudPeer | undefined;
  let stack: Pm2Stack | undefined;
  try {
    cloud = await cloudPeer(env.deviceId);
    stack = await startStack(['hardware', 'business', 'mqtt'], env.env);
    await waitFor(async () => {
      const s = await emu.state();
      return s.coin.accepting && s.bill.accepting && s.hopper.enabled;
    }, 20_000, 'the devices set up by the driver');

    const steps = [
      { line: 'bill 100', amount: 100, coins: 10 },
      { line: 'coin 50', amount: 50, coins: 5 },
      { line: 'bill 500', amount: 500, coins: 50 },
      { line: 'bill 1000', amount: 1000, coins: 100 },
    ];
    const expectExchange = async (n: number, s: (typeof steps)[number]): Promise<void> => {
      const msg = await waitFor(() => cloud!.unique('transaction')[n - 1], 30_000, `transaction #${n}`);
      const d = transactionDataSchema.parse(msg.payload.data);
      t.is(d.amounts.transaction_amount, s.amount, `exchange ${n}`);
      t.is(d.amounts.coins_dispensed, s.coins, `exchange ${n} coins`);
      t.true(d.success);
    };
    for (const [i, s] of steps.entries()) {
      await emu.command(s.line);
      await expectExchange(i + 1, s);
    }
    t.is((await emu.state()).hopper.dispensed, 165);

    // A 1000 bill pays 100 coins; the hopper loses power once 10 are out, and gets it back.
    const hardware = (await stack.list()).find((p) => p.name === 'hardware')!;
    await emu.command('bill 1000');
    // `paid` still reads the last dispense's 100 until this one starts: the coins out since are what counts.
    await waitFor(async () => (await emu.state()).hopper.dispensed >= 165 + 10, 15_000, 'the payout under way');
    await emu.command('powercut');
    await cloud.waitFor(fault(41, 'raised'), 15_000, 'hopper fault raised');
    await emu.command('plug hopper');
    await cloud.waitFor(fault(41, 'cleared'), 20_000, 'hopper fault cleared');
    await expectExchange(5, steps[3]!);
    t.is((await emu.state()).hopper.dispensed, 265, 'the remainder paid exactly once');

    // The hopper gone: a bill is handed back from escrow, nothing credited.
    await emu.command('unplug hopper');
    await waitFor(() => cloud!.unique('error').filter(fault(41, 'raised')).length === 2, 15_000, 'hopper fault raised again');
    const stackedBefore = (await emu.state()).bill.stacked.length;
    await emu.command('bill 500');
    await waitFor(async () => (await emu.state()).bill.escrow === 0, 15_000, 'the escrow emptied');
    t.is((await emu.state()).bill.stacked.length, stackedBefore, 'the bill was handed back');
    await emu.command('plug hopper');
    await waitFor(() => cloud!.unique('error').filter(fault(41, 'cleared')).length === 2, 20_000, 'hopper fault cleared again');

    // The cable pulled (socat and the emulator gone) and plugged back; a coin dropped after is credited.
    await Promise.all([emu.kill('SIGKILL'), pty.kill('SIGKILL')]);
    await pty.start();
    emu = await startCctalkEmulator(pty.boardPath, join(pty.dir, 'cctalk.sock'), emuArgs);
    await waitFor(async () => (await emu.state()).coin.accepting, 20_000, 'the new devices set up');
    await emu.command('coin 50');
    await expectExchange(6, steps[1]!);
    t.is(cloud.unique('transaction').length, 6);

    // Recovered in place: PM2 restarted nothing.
    const after = await stack.list();
    for (const app of after) t.is(app.restarts, 0, `${app.name} restarts`);
    t.is(after.find((p) => p.name === 'hardware')!.pid, hardware.pid, 'same hardware process');
    // Besides the hopper's 41, the new emulator process is a power-up of every device: 13 and 21 (reset), each cleared.
    const errors = cloud.unique('error');
    t.deepEqual(
      errors.map((r) => r.payload.data.error_code).filter((c) => ![41, 13, 21].includes(c)),
      [],
      'no other error (51 would mean a payout in doubt)',
    );
    for (const code of [13, 21]) t.is(errors.filter(fault(code, 'raised')).length, errors.filter(fault(code, 'cleared')).length, `${code} cleared`);
  } catch (err) {
    await logPm2(t, stack);
    t.log(emu.output().slice(-2000));
    throw err;
  } finally {
    await stack?.destroy();
    await cloud?.close();
    await emu.kill();
    await pty.dispose();
    await cleanupRedis(env.prefix);
  }
});
