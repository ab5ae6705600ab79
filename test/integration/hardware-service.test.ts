/**
 * The hardware service in-process on the real Redis, seen from outside:
 * `control` and `hw-commands` jobs go in, `hw-events` jobs come out (read by
 * a worker standing in for the business app), and the physical truth agrees.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { Job } from 'bullmq';
import {
  hwEventJobId,
  hwEventSchema,
  makeQueue,
  makeWorker,
  producerConnection,
  queueNames,
  workerConnection,
  type ControlJob,
  type HwCommand,
  type HwEvent,
} from '../../queue/index.js';
import { readPhysicalTruth } from '../../shared/physical-truth.js';
import { SimDriver } from '../../workers/hardware/sim/sim-driver.js';
import { startHardwareService } from '../../workers/hardware/service.js';
import { testEnv, cleanupRedis, waitFor, REDIS_URL } from '../helpers/env.js';
import { ROOT } from '../helpers/pm2.js';

const log = pino({ level: 'silent' });
const run = promisify(execFile);

async function hardwareApp(t: ExecutionContext, opts: { customersPerMinute?: number; random?: () => number } = {}) {
  const env = testEnv();
  const { keys } = env;
  const simRedis = workerConnection(REDIS_URL);
  const producer = producerConnection(REDIS_URL);
  const consumer = workerConnection(REDIS_URL);
  const businessConn = workerConnection(REDIS_URL);
  const sim = new SimDriver({ redis: simRedis, keys, log }, { initialInventory: 200, payoutMs: 1 });
  const service = await startHardwareService({
    driver: sim,
    simulator: sim,
    hwEvents: makeQueue<HwEvent>(queueNames.hwEvents, producer, keys.bullPrefix),
    connection: consumer,
    prefix: keys.bullPrefix,
    log,
    customersPerMinute: opts.customersPerMinute ?? 0,
    random: opts.random,
  });
  // Stands in for the business app.
  const received: { jobId: string | undefined; event: HwEvent }[] = [];
  const business = makeWorker(
    queueNames.hwEvents,
    async (job: Job) => void received.push({ jobId: job.id, event: hwEventSchema.parse(job.data) }),
    businessConn,
    keys.bullPrefix,
  );
  const commands = makeQueue<HwCommand>(queueNames.hwCommands, producer, keys.bullPrefix);
  const control = makeQueue<ControlJob>(queueNames.control, producer, keys.bullPrefix);
  t.teardown(async () => {
    await service.close();
    await business.close();
    await commands.close();
    await control.close();
    for (const c of [simRedis, producer, consumer, businessConn]) c.disconnect();
    await cleanupRedis(env.prefix);
  });
  const events = () => received.map((r) => r.event);
  const settled = async (job: Job) =>
    waitFor(async () => {
      const state = await job.getState();
      return state === 'completed' || state === 'failed' ? state : null;
    }, 5_000, `job ${job.id}`);
  return { env, simRedis, service, received, events, commands, control, settled };
}

test('control actions reach hw-events as events, each job id derived from its event id', async (t) => {
  const app = await hardwareApp(t);
  const actions: ControlJob[] = [
    { action: 'bill', amount: 100 },
    { action: 'coin', amount: 50 },
    { action: 'door', open: true },
    { action: 'fault', code: 21 },
    { action: 'clear', code: 21 },
    { action: 'refill', coins: 25 },
    { action: 'door', open: false },
  ];
  for (const a of actions) await app.settled(await app.control.add(a.action, a));
  const want = ['bill_accepted', 'coin_accepted', 'door', 'fault_raised', 'fault_cleared', 'hopper_level', 'door'];
  await waitFor(() => app.events().length >= 1 + want.length, 5_000, 'all events');
  // The first hopper_level is the start-up report.
  t.deepEqual(app.events().map((e) => e.kind), ['hopper_level', ...want]);
  for (const r of app.received) t.is(r.jobId, hwEventJobId(r.event.eventId));
  t.like(await readPhysicalTruth(app.simRedis, app.env.keys), { inventory: 225, billsNtd: 100, coinsNtd: 50, doorOpen: false, activeFaults: [] });
});

test('hw-commands: payouts, repeated payouts, acceptors off refuse cash, status report', async (t) => {
  const app = await hardwareApp(t);
  await app.commands.add('payout', { kind: 'payout', payoutId: 'TXN_1', coins: 10 });
  await app.commands.add('payout', { kind: 'payout', payoutId: 'TXN_1', coins: 10 });
  await waitFor(() => app.events().find((e) => e.kind === 'payout_done'), 5_000, 'payout_done');
  t.like(app.events().find((e) => e.kind === 'payout_done'), { payoutId: 'TXN_1', paid: 10, unpaid: 0, reason: 'complete' });

  await app.settled(await app.commands.add('set_acceptors', { kind: 'set_acceptors', enabled: false }));
  const refused = await app.control.add('bill', { action: 'bill', amount: 1000 });
  t.is(await app.settled(refused), 'completed');
  t.is((await app.control.getJob(refused.id!))?.returnvalue, 'refused');
  await app.commands.add('report_status', { kind: 'report_status', requestId: 'rs-1' });
  const report = await waitFor(() => app.events().find((e) => e.kind === 'status_report'), 5_000, 'status_report');
  t.like(report, { requestId: 'rs-1', inventory: 190, acceptorsEnabled: false, doorOpen: false });
  t.deepEqual(report.kind === 'status_report' && report.payouts, [{ payoutId: 'TXN_1', requested: 10, paid: 10, done: true, reason: 'complete' }]);
  t.false(app.events().some((e) => e.kind === 'bill_accepted'));
  t.like(await readPhysicalTruth(app.simRedis, app.env.keys), { dispensed: 10, billsNtd: 0 });
});

test('an invalid control or command job fails at once and changes nothing', async (t) => {
  const app = await hardwareApp(t);
  const bad = await app.control.add('bill', { action: 'bill', amount: 300 } as unknown as ControlJob);
  t.is(await app.settled(bad), 'failed');
  const badCmd = await app.commands.add('payout', { kind: 'payout', payoutId: 'x', coins: -1 } as HwCommand, { attempts: 3 });
  t.is(await app.settled(badCmd), 'failed');
  t.is((await app.commands.getJob(badCmd.id!))?.attemptsMade, 1, 'not retried');
  t.like(await readPhysicalTruth(app.simRedis, app.env.keys), { billsNtd: 0, dispensed: 0 });
});

test('simulated customers insert cash and the events add up to the cash box', async (t) => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const app = await hardwareApp(t, { customersPerMinute: 6000, random });
  const accepted = () => app.events().filter((e) => e.kind === 'bill_accepted' || e.kind === 'coin_accepted');
  await waitFor(() => accepted().length >= 20, 10_000, 'twenty customers');
  await app.service.close();
  // What the last customers inserted while the service closed stays pending for the next start.
  const pending = async () =>
    (await app.simRedis.lrange(app.env.keys.hwPending, 0, -1)).map((raw) => hwEventSchema.parse(JSON.parse(raw))).filter((e) => e.kind === 'bill_accepted' || e.kind === 'coin_accepted');
  const reported = async () => [...accepted(), ...(await pending())];
  const truth = await readPhysicalTruth(app.simRedis, app.env.keys);
  const inCashBox = truth.bills[100] + truth.bills[500] + truth.bills[1000] + truth.coins50;
  await waitFor(async () => (await reported()).length === inCashBox, 5_000, 'every insertion received or pending');
  const sum = (await reported()).reduce((s, e) => s + ('amount' in e ? e.amount : 0), 0);
  t.is(truth.billsNtd + truth.coinsNtd, sum);
  t.true(accepted().some((e) => e.kind === 'bill_accepted' && e.amount === 100));
});

test('coinerex sim reaches the hardware service through the control queue', async (t) => {
  const app = await hardwareApp(t);
  const cli = (...args: string[]) => run(process.execPath, [join(ROOT, 'bin', 'coinerex'), 'sim', ...args], { env: { ...process.env, ...app.env.env } });
  const { stdout } = await cli('bill', '500');
  t.regex(stdout, /queued bill 500/);
  await cli('jam');
  await app.commands.add('payout', { kind: 'payout', payoutId: 'TXN_jam', coins: 10 });
  await waitFor(() => app.events().find((e) => e.kind === 'payout_done'), 5_000, 'jammed payout');
  t.like(app.events().find((e) => e.kind === 'bill_accepted'), { amount: 500 });
  t.like(app.events().find((e) => e.kind === 'payout_done'), { payoutId: 'TXN_jam', paid: 3, unpaid: 7, reason: 'jam' });
  t.like(app.events().find((e) => e.kind === 'fault_raised'), { code: 41 });

  const bad = await t.throwsAsync(cli('bill', '300'));
  t.like(bad, { code: 2 });
  t.regex((bad as unknown as { stderr: string }).stderr, /bad bill amount "300"/);
  const badDoor = await t.throwsAsync(cli('door', 'ajar'));
  t.regex((badDoor as unknown as { stderr: string }).stderr, /bad door position "ajar"/);
  const badConfig = await t.throwsAsync(run(process.execPath, [join(ROOT, 'bin', 'coinerex'), 'sim', 'jam'], { env: { ...process.env, ...app.env.env, COINEREX_REDIS_URL: 'http://nowhere' } }));
  t.like(badConfig, { code: 78 });
  t.regex((badConfig as unknown as { stderr: string }).stderr, /COINEREX_REDIS_URL/);
});
