/**
 * The five command types against real Redis (docs/protocol.md#7-commands): limits and
 * preconditions of coin_dispense, restart ordering, lock, query and config,
 * results and the state they leave behind.
 */
import test, { type ExecutionContext } from 'ava';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { CommandError } from '../../shared/errors.js';
import type { Envelope } from '../../shared/messages.js';
import { readRuntimeSettings } from '../../shared/runtime-settings.js';
import { localDay } from '../../shared/clock.js';
import { readMachineSnapshot } from '../../shared/machine-state.js';
import { queueNames } from '../../queue/names.js';
import { createCommandVerifier, type CommandVerifier } from '../../workers/business/commands/auth/pool.js';
import { intentFields } from '../../workers/business/state/records.js';
import { REDIS_URL, waitFor, watchUnchanged } from '../helpers/env.js';
import { commandsHarness, nowSeconds, type CommandsHarness } from '../helpers/commands-harness.js';

let verifier: CommandVerifier;
test.before(() => {
  // One pool for every test of this file, which run side by side: the production bound (16 waiting)
  // would refuse some of their commands BUSY; the bound itself is tested in commands-pipeline.
  verifier = createCommandVerifier({ publicKeyPem: null, maxQueue: 256 });
});
test.after.always(() => verifier.close());

async function withHarness(t: ExecutionContext, fn: (h: CommandsHarness) => Promise<void>, opts: Parameters<typeof commandsHarness>[1] = {}): Promise<void> {
  const h = await commandsHarness(verifier, opts);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
  t.pass();
}

let seq = 0;
const cmd = (type: string, data: unknown, extra: Record<string, unknown> = {}) => ({ command_id: `K_${++seq}`, command_type: type, data, ...extra });
const dispense = (coins: unknown, extra: Record<string, unknown> = {}) => cmd('coin_dispense', { coins_to_dispense: coins }, extra);
const last = async (h: CommandsHarness) => (await h.results()).at(-1)!;
const errorOf = async (h: CommandsHarness, body: Record<string, unknown>) => {
  await h.run(body.command_type as string, body);
  const r = await last(h);
  return r.status === 'failed' ? String(r.result.error_code) : 'success';
};

// ---- coin_dispense ---------------------------------------------------------

test("the guide's TEST_001 works without a key and reports the payout", (t) =>
  withHarness(t, async (h) => {
    const out = await h.run('coin_dispense', { command_id: 'TEST_001', command_type: 'coin_dispense', data: { coins_to_dispense: 5 } });
    t.is(out.outcome, 'success');
    const r = await last(h);
    t.deepEqual(Object.keys(r).sort(), ['ack_command_id', 'command_type', 'device_id', 'result', 'status', 'timestamp']);
    t.like(r, { ack_command_id: 'TEST_001', command_type: 'coin_dispense', status: 'success', result: { coins_dispensed: 5, coins_remaining: 995 } });
    t.regex(String(r.result.transaction_id), /^REMOTE_\d{8}_\d{6}_\d{3}$/);
    t.is(typeof r.result.execution_time_ms, 'number');
    t.true(Number.isInteger(r.timestamp));
    t.is(h.machine.paid, 5);
  }));

test('coin counts: negative, fractional, huge, non-numeric string are INVALID_COMMAND; above the per-command limit LIMIT_EXCEEDED', (t) =>
  withHarness(t, async (h) => {
    for (const coins of [-5, 0, 2.5, 1e9, 'five']) t.is(await errorOf(h, dispense(coins)), 'INVALID_COMMAND', String(coins));
    t.is(await errorOf(h, dispense(201)), 'LIMIT_EXCEEDED');
    t.is(await errorOf(h, dispense(200)), 'success');
    t.is(await errorOf(h, cmd('coin_dispense', { coins_to_dispense: 5, coin_value: 50 })), 'INVALID_COMMAND');
    t.is(await errorOf(h, cmd('coin_dispense', { coins_to_dispense: 5, coin_value: 10 })), 'success');
    t.is(h.machine.paid, 205);
  }));

test('daily limit: counted per local day in Redis; a refusal or a short payout counts only what was paid', (t) =>
  withHarness(
    t,
    async (h) => {
      t.is(await errorOf(h, dispense(200)), 'success');
      t.is(await errorOf(h, dispense(90)), 'success');
      t.is(await errorOf(h, dispense(11)), 'LIMIT_EXCEEDED');
      // The machine refuses at the last moment: the reservation is released.
      const real = h.machine.remoteDispense.bind(h.machine);
      h.machine.remoteDispense = async () => {
        throw new CommandError('MACHINE_LOCKED');
      };
      t.is(await errorOf(h, dispense(10)), 'MACHINE_LOCKED');
      // A payout cut short: 4 of 8.
      h.machine.remoteDispense = async (req) => ({ ...(await real({ ...req, coins: 4 })), success: false, coinsUnpaid: 4 });
      await h.run('coin_dispense', dispense(8));
      const short = await last(h);
      t.like(short, { status: 'failed', result: { error_code: 'HARDWARE_FAILURE', coins_dispensed: 4, coins_unpaid: 4 } });
      h.machine.remoteDispense = real;
      const day = h.env.keys.dispenseQuota(localDay(Date.now(), h.env.config.timezone));
      t.is(await h.redis.hget(day, 'total'), '294');
      t.true((await h.redis.ttl(day)) > 86_400);
      t.is(await errorOf(h, dispense(6)), 'success');
      t.is(await errorOf(h, dispense(1)), 'LIMIT_EXCEEDED');
      t.is(h.machine.paid, 300);
    },
    { env: { COINEREX_DISPENSE_MAX_PER_DAY: '300' } },
  ));

test('refused when locked, on a critical fault, with the door open, or short of coins', (t) =>
  withHarness(t, async (h) => {
    h.machine.state.locked = true;
    t.is(await errorOf(h, dispense(5)), 'MACHINE_LOCKED');
    h.machine.state.locked = false;
    h.machine.state.activeErrors = [41];
    t.is(await errorOf(h, dispense(5)), 'MACHINE_FAULT');
    h.machine.state.activeErrors = [44];
    t.is(await errorOf(h, dispense(5)), 'success', 'a non-critical fault does not block');
    h.machine.state.activeErrors = [];
    h.machine.state.doorOpen = true;
    t.is(await errorOf(h, dispense(5)), 'MACHINE_FAULT');
    t.regex(String((await last(h)).result.error), /前門開啟/);
    h.machine.state.doorOpen = false;
    h.machine.state.inventory = 4;
    t.is(await errorOf(h, dispense(5)), 'INSUFFICIENT_COINS');
    t.is(h.machine.paid, 5);
  }));

test('a level the books do not know (a ccTalk hopper) refuses nothing: the hopper pays what it has, the result says so', (t) =>
  withHarness(t, async (h) => {
    // The reader: no level reported yet is unknown, a reported 0 is known.
    const day = localDay(Date.now(), h.env.config.timezone);
    t.false((await readMachineSnapshot(h.redis, h.env.keys, day)).inventoryKnown);
    await h.redis.hset(h.env.keys.machine, 'inventory', '0');
    t.like(await readMachineSnapshot(h.redis, h.env.keys, day), { inventory: 0, inventoryKnown: true });

    // The books show 0 and do not know; the (fake) hopper holds 4 of the 5 asked.
    h.machine.state.inventoryKnown = false;
    h.machine.state.inventory = 4;
    t.is(await errorOf(h, dispense(5)), 'HARDWARE_FAILURE');
    t.like((await last(h)).result, { coins_dispensed: 4, coins_unpaid: 1 });
    h.machine.state.inventory = 100;
    t.is(await errorOf(h, dispense(5)), 'success');
    t.is(h.machine.paid, 9);
    // A known level still refuses what it cannot cover.
    h.machine.state.inventoryKnown = true;
    h.machine.state.inventory = 4;
    t.is(await errorOf(h, dispense(5)), 'INSUFFICIENT_COINS');
    t.is(h.machine.paid, 9);
  }));

test('an unexpected machine error is a stored HARDWARE_FAILURE; a repeat does not try again', (t) =>
  withHarness(t, async (h) => {
    h.machine.remoteDispense = async () => {
      throw new Error('serial link lost');
    };
    const body = dispense(5);
    t.is(await errorOf(h, body), 'HARDWARE_FAILURE');
    t.like(await h.run('coin_dispense', body), { outcome: 'duplicate' });
  }));

test('a run cut short after the claim resumes through the machine: paid once, counted once', (t) =>
  withHarness(t, async (h) => {
    const body = dispense(7);
    t.is(await errorOf(h, body), 'success');
    // As if the process died after paying but before storing the result.
    await h.redis.set(h.env.keys.command(body.command_id), JSON.stringify({ state: 'executing', jobId: 'old', at: Date.now() }));
    const again = await h.run('coin_dispense', body);
    t.is(again.outcome, 'success');
    t.like(again.result, { result: { coins_dispensed: 7 } });
    t.is(h.machine.paid, 7);
    const day = h.env.keys.dispenseQuota(localDay(Date.now(), h.env.config.timezone));
    t.is(await h.redis.hget(day, 'total'), '7');
    t.like(JSON.parse((await h.redis.get(h.env.keys.command(body.command_id)))!), { state: 'done' });
  }));

test('a run cut short between the claim and the checks passes every check again and counts once', (t) =>
  withHarness(t, async (h) => {
    const crashedAfterClaim = async (body: { command_id: string }) =>
      h.redis.set(h.env.keys.command(body.command_id), JSON.stringify({ state: 'executing', jobId: 'old', at: Date.now() }));
    // Over the per-command limit (200): refused, nothing paid.
    const big = dispense(300);
    await crashedAfterClaim(big);
    t.is(await errorOf(h, big), 'LIMIT_EXCEEDED');
    // More than the hopper holds.
    h.machine.state.inventory = 10;
    const short = dispense(20);
    await crashedAfterClaim(short);
    t.is(await errorOf(h, short), 'INSUFFICIENT_COINS');
    h.machine.state.inventory = 1000;
    // Past its timeout_seconds by the time it is resumed.
    const late = dispense(4, { timestamp: nowSeconds() - 60, data: { coins_to_dispense: 4, timeout_seconds: 30 } });
    await crashedAfterClaim(late);
    t.is(await errorOf(h, late), 'EXPIRED');
    t.is(h.machine.paid, 0);
    // A valid one is paid and counted against the day's quota, once, however often it is resumed.
    const ok = dispense(6);
    await crashedAfterClaim(ok);
    t.is(await errorOf(h, ok), 'success');
    await crashedAfterClaim(ok);
    t.is(await errorOf(h, ok), 'success');
    t.is(h.machine.paid, 6);
    const day = h.env.keys.dispenseQuota(localDay(Date.now(), h.env.config.timezone));
    t.is(await h.redis.hget(day, 'total'), '6');
  }));

test('requires_ack false: executed silently; a later repeat asking for it gets the original result', (t) =>
  withHarness(t, async (h) => {
    const body = dispense(3, { requires_ack: false });
    t.like(await h.run('coin_dispense', body), { outcome: 'success' });
    t.is((await h.results()).length, 0);
    t.like(await h.run('coin_dispense', { ...body, requires_ack: true }), { outcome: 'duplicate' });
    t.like(await last(h), { ack_command_id: body.command_id, status: 'success', result: { coins_dispensed: 3 } });
    t.is(h.machine.paid, 3);
  }));

// ---- restart ---------------------------------------------------------------

test('soft restart: the result is published first, then after idle and the delay the request reaches the supervisor list', (t) =>
  withHarness(t, async (h) => {
    const events: string[] = [];
    const conn = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
    const mqttApp = new Worker(queueNames.outbox, async (job) => void events.push(`published ${job.data.kind}`), { connection: conn, prefix: h.env.keys.bullPrefix });
    let idle!: () => void;
    h.machine.idle = new Promise<void>((resolve) => {
      idle = resolve;
    });
    try {
      const out = await h.run('restart', cmd('restart', { restart_type: 'soft', delay_seconds: 0.2, reason: 'update' }));
      t.is(out.outcome, 'success');
      t.like(out.result, { status: 'success', result: { restart_initiated: true, active_transactions: 0 } });
      const r = out.result!.result;
      t.is((r.expected_boot_time as number) - (r.shutdown_time as number), 15);
      await waitFor(() => events.length > 0, 5_000, 'result published');
      t.is(await h.redis.llen(h.env.keys.restartRequests), 0, 'no restart while an exchange is in progress');
      events.push('idle');
      idle();
      const raw = await waitFor(() => h.redis.lindex(h.env.keys.restartRequests, 0), 5_000, 'restart request');
      const request = JSON.parse(raw);
      t.like(request, { type: 'soft', reason: 'update', commandId: out.commandId });
      t.is(typeof request.requestId, 'string');
      t.deepEqual(events, ['published command_result', 'idle']);
    } finally {
      await mqttApp.close();
      conn.disconnect();
    }
  }));

test('restart counts the exchange payouts in progress in active_transactions, not debt payouts', (t) =>
  withHarness(t, async (h) => {
    const k = h.env.keys;
    const intents = [
      { payoutId: 'P1', purpose: 'exchange', ref: 'TXN_20250912_103000_001' },
      { payoutId: 'P2', purpose: 'exchange', ref: 'TXN_20250912_103001_002' },
      { payoutId: 'P3', purpose: 'exchange', ref: 'TXN_20250912_103001_002' },
      { payoutId: 'P4', purpose: 'debt', ref: '' },
    ] as const;
    const m = h.redis.multi();
    for (const i of intents) m.hset(k.payoutIntent(i.payoutId), intentFields({ ...i, coins: 10, createdAt: 1 })).rpush(k.payoutLane, i.payoutId);
    await m.exec();
    const out = await h.run('restart', cmd('restart', { restart_type: 'soft', delay_seconds: 3600 }));
    t.like(out.result, { status: 'success', result: { active_transactions: 2 } });
  }));

test('soft restart with nothing in progress still waits for the mqtt app to publish the result', (t) =>
  withHarness(t, async (h) => {
    const conn = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: null });
    let publishedAt = 0;
    let requestedEarly = -1;
    // A slow mqtt app: for 300 ms the result is taken but not yet published, and no restart may be asked for.
    const slowMqttApp = new Worker(
      queueNames.outbox,
      async () => {
        requestedEarly = (await watchUnchanged(() => h.redis.llen(h.env.keys.restartRequests), 300)).after;
        publishedAt = Date.now();
      },
      { connection: conn, prefix: h.env.keys.bullPrefix },
    );
    try {
      await h.run('restart', cmd('restart', {}));
      const raw = await waitFor(() => h.redis.lindex(h.env.keys.restartRequests, 0), 5_000, 'restart request');
      t.is(requestedEarly, 0, 'no restart requested while the result was unpublished');
      t.true(publishedAt > 0 && JSON.parse(raw).at >= publishedAt, 'request after the result went out');
    } finally {
      await slowMqttApp.close();
      conn.disconnect();
    }
  }));

test('soft restart goes ahead after a bounded wait when nothing publishes the result', (t) =>
  withHarness(
    t,
    async (h) => {
      await h.run('restart', cmd('restart', {}));
      const raw = await waitFor(() => h.redis.lindex(h.env.keys.restartRequests, 0), 5_000, 'restart request');
      t.like(JSON.parse(raw), { type: 'soft' });
    },
    { resultWaitMs: 200 },
  ));

test('hard restart: NOT_PERMITTED unless enabled, then requested as type hard', async (t) => {
  await withHarness(t, async (h) => {
    t.is(await errorOf(h, cmd('restart', { restart_type: 'hard' })), 'NOT_PERMITTED');
    t.is((await watchUnchanged(() => h.redis.llen(h.env.keys.restartRequests), 300)).after, 0);
  });
  await withHarness(
    t,
    async (h) => {
      t.is(await errorOf(h, cmd('restart', { restart_type: 'hard' })), 'success');
      const raw = await waitFor(() => h.redis.lindex(h.env.keys.restartRequests, 0), 5_000, 'restart request');
      t.like(JSON.parse(raw), { type: 'hard' });
    },
    { env: { COINEREX_ALLOW_HARD_RESTART: '1' }, resultWaitMs: 100 },
  );
});

// ---- lock ------------------------------------------------------------------

test('lock with a fractional duration, then unlock', (t) =>
  withHarness(t, async (h) => {
    const before = Date.now();
    const out = await h.run('lock', cmd('lock', { action: 'lock', duration_minutes: 0.05, reason: 'audit', operator_id: 'op', message_display: '暫停服務' }));
    t.like(out.result, { status: 'success', result: { action_completed: 'lock', services_disabled: ['bill_accept', 'coin_accept', 'exchange', 'coin_dispense'] } });
    const req = h.machine.locks[0]!;
    t.like(req, { locked: true, reason: 'audit', operatorId: 'op', messageDisplay: '暫停服務' });
    t.true(req.until! >= before + 3_000 && req.until! <= Date.now() + 3_000);
    t.is((out.result!.result.lock_end_time as number) - (out.result!.result.lock_start_time as number), 3);
    t.is(await errorOf(h, dispense(1)), 'MACHINE_LOCKED');
    const un = await h.run('lock', cmd('lock', { action: 'unlock' }));
    t.like(un.result, { result: { action_completed: 'unlock', services_disabled: [] } });
    t.like(h.machine.locks[1], { locked: false, until: null });
  }));

// ---- query -----------------------------------------------------------------

test('query full_status publishes accounting, heartbeat and status; heartbeat carries include_diagnostics', (t) =>
  withHarness(t, async (h) => {
    const out = await h.run('query', cmd('query', {}));
    t.like(out.result, { status: 'success', result: { query_type: 'full_status', published: ['accounting', 'heartbeat', 'status'], coins_remaining: 1000 } });
    t.deepEqual(h.machine.published, { accounting: 1, status: 1 });
    await h.run('query', cmd('query', { query_type: 'heartbeat', include_diagnostics: true }));
    const heartbeats = (await h.outboxJobs()).filter((j) => j.kind === 'heartbeat');
    t.deepEqual(heartbeats, [
      { kind: 'heartbeat', diagnostics: false },
      { kind: 'heartbeat', diagnostics: true },
    ]);
  }));

test('query transactions re-publishes journal envelopes unchanged, by time range and limit', (t) =>
  withHarness(t, async (h) => {
    const base = nowSeconds() - 1000;
    const entry = (i: number): Envelope => ({
      timestamp: base + i * 100,
      device_id: h.env.deviceId,
      message_id: `00000000-0000-4000-8000-00000000000${i}`,
      message_type: 'transaction',
      version: '1.3.2',
      seq: i + 1,
      data: { transaction_type: 'exchange', transaction_id: `TXN_20250912_10300${i}_00${i}` },
    });
    h.machine.journal = [0, 1, 2, 3, 4].map(entry);
    const out = await h.run('query', cmd('query', { query_type: 'transactions', since: base + 100, until: new Date((base + 300) * 1000).toISOString(), limit: 2 }));
    t.like(out.result, { status: 'success', result: { query_type: 'transactions', count: 2 } });
    t.deepEqual(out.result!.result.message_ids, [entry(1).message_id, entry(2).message_id]);
    const messages = (await h.outboxJobs()).filter((j) => j.kind === 'message');
    t.deepEqual(messages, [
      { kind: 'message', envelope: entry(1), replay: true },
      { kind: 'message', envelope: entry(2), replay: true },
    ]);
  }));

// ---- config ----------------------------------------------------------------

test('config: each setting validated alone, applied live, persisted, announced; the result lists applied and rejected', (t) =>
  withHarness(t, async (h) => {
    const sub = new Redis(REDIS_URL, { protocol: 2 });
    const announced: string[] = [];
    sub.on('message', (_channel, message) => announced.push(message));
    await sub.subscribe(h.env.keys.settingsChannel);
    try {
      const out = await h.run(
        'config',
        cmd('config', { heartbeat_interval: 60, statusSeconds: 120, low_coin_warning: 50, bogus: 1, dispense_max_per_day: -1, bonus_table: { 1000: 5 }, operator_id: 'op' }),
      );
      t.is(out.outcome, 'success');
      t.deepEqual(out.result!.result.applied, [
        { key: 'heartbeat_interval', setting: 'heartbeatSeconds', value: 60 },
        { key: 'statusSeconds', setting: 'statusSeconds', value: 120 },
        { key: 'low_coin_warning', setting: 'lowCoinWarning', value: 50 },
        { key: 'bonus_table', setting: 'bonusTable', value: { 1000: 5 } },
      ]);
      t.deepEqual(
        (out.result!.result.rejected as Array<{ key: string }>).map((r) => r.key),
        ['bogus', 'dispense_max_per_day'],
      );
      t.deepEqual(await h.redis.hgetall(h.env.keys.settings), { heartbeatSeconds: '60', statusSeconds: '120', lowCoinWarning: '50', bonusTable: '{"1000":5}' });
      const live = await readRuntimeSettings(h.redis, h.env.keys, h.env.config);
      t.like(live, { heartbeatSeconds: 60, statusSeconds: 120, lowCoinWarning: 50, dispenseMaxPerDay: 1000 });
      t.deepEqual(h.machine.applied, [live]);
      await waitFor(() => announced.length > 0, 2_000, 'settings announcement');
      t.like(JSON.parse(announced[0]!), { changed: ['heartbeatSeconds', 'statusSeconds', 'lowCoinWarning', 'bonusTable'], settings: { heartbeatSeconds: 60 } });
    } finally {
      sub.disconnect();
    }
  }));

test('config: critical above warning is rejected; nothing valid means failed; new limits take effect at once', (t) =>
  withHarness(t, async (h) => {
    const pair = await h.run('config', cmd('config', { low_coin_critical: 500 }));
    t.like(pair.result, { status: 'failed', result: { error_code: 'INVALID_COMMAND', applied: [] } });
    t.is((pair.result!.result.rejected as Array<{ key: string }>)[0]!.key, 'low_coin_critical');
    t.is(await h.redis.exists(h.env.keys.settings), 0);
    t.like((await h.run('config', cmd('config', { dispense_max_per_command: 10 }))).result, { status: 'success' });
    t.is(await errorOf(h, dispense(11)), 'LIMIT_EXCEEDED');
    t.is(await errorOf(h, dispense(10)), 'success');
  }));
