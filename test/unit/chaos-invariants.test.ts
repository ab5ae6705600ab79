/**
 * The chaos suite's judge (chaos/invariants.ts) on hand-made evidence:
 * consistent books pass every check, and each kind of money bug — a credit
 * counted twice, a double payout, a lost debt, a remote command run twice, a
 * transaction that never reached the cloud, a silent drop — fails the
 * invariant it breaks. Plus the plan: reproducible from its seed, every
 * fault kind present.
 */
import test from 'ava';
import { checkInvariants, type Evidence, type JournalRecord } from '../../chaos/invariants.js';
import { cctalkFaultKinds, faultKinds, makePlan } from '../../chaos/plan.js';
import { parsePhysicalTruth } from '../../shared/physical-truth.js';

const txn = (id: string, msg: string, type: 'exchange' | 'remote_dispense', bills: number, coinsIn: number, paid: number, debt = 0, commandId?: string): JournalRecord => ({
  transactionId: id,
  messageId: msg,
  data: {
    transaction_type: type,
    transaction_id: id,
    ...(commandId ? { command_id: commandId } : {}),
    amounts: { bills_inserted: bills, coins_inserted: coinsIn, coins_dispensed: paid },
    success: debt === 0,
    ...(debt > 0 ? { debt_coins: debt } : {}),
  },
});

/**
 * A 100 bill (10 coins), a 500 bill (50 + 2 bonus, 40 paid, 12 owed and paid
 * later by a debt payout), a 50 coin (5) and a remote dispense of 7:
 * 10 + 40 + 5 + 12 + 7 = 74 coins left a hopper of 100.
 */
function consistent(): Evidence {
  const journal = [
    txn('TXN_20260101_100000_001', 'm1', 'exchange', 100, 0, 10),
    txn('TXN_20260101_100100_002', 'm2', 'exchange', 500, 0, 40, 12),
    txn('TXN_20260101_100200_003', 'm3', 'exchange', 0, 50, 5),
    txn('REMOTE_20260101_100300_001', 'm4', 'remote_dispense', 0, 0, 7, 0, 'C1'),
  ];
  return {
    truth: parsePhysicalTruth({ initialized_at: '1', inventory: '26', initial_inventory: '100', refilled: '0', dispensed: '74', bills_100: '1', bills_500: '1', bills_1000: '0', coins_50: '1' }),
    counters: { total_bills: 600, total_coins: 50, total_dispensed: 74, remote_dispensed: 7, bonus_coins: 0, debt_coins: 0, balance: 650, credit_ntd: 0, unmapped_ntd: 0 },
    booksInventory: 26,
    hopperCounts: true,
    journal,
    cloudTransactions: journal.map((j) => ({ messageId: j.messageId, data: structuredClone(j.data) })),
    decisions: [{ entry: 'DEBT51_1767233000000', messageId: 'm51' }],
    cloudMessageIds: [...journal.map((j) => j.messageId), 'm51'],
    commands: [
      {
        id: 'C1',
        type: 'coin_dispense',
        coins: 7,
        results: [{ timestamp: 1, device_id: 'D', ack_command_id: 'C1', command_type: 'coin_dispense', status: 'success', result: { coins_dispensed: 7, transaction_id: 'REMOTE_20260101_100300_001' } }],
      },
    ],
    bonusTable: { '500': 2, '1000': 5 },
    delivery: { pending: 0, buffered: 0, failed: 0, dropped: 0, superseded: 0, retransmits: 0, giveups: 0, acked: 8, skipped: 0 },
    droppedLogged: [],
    replay: { missing: [], recovered: [] },
    failedMessages: [],
    settle: { settled: true, unmet: [] },
  };
}

const failing = (e: Evidence) => checkInvariants(e).filter((c) => !c.ok);

test('consistent books pass every check', (t) => {
  const checks = checkInvariants(consistent());
  t.true(checks.length >= 25);
  t.deepEqual(checks.filter((c) => !c.ok), []);
});

test('a remote dispense cut short by a jam is unsuccessful without debt: no violation', (t) => {
  const e = consistent();
  // 7 of 9 asked were paid; the shortfall is reported, not owed to a customer.
  e.commands[0]!.coins = 9;
  e.journal[3]!.data.success = false;
  e.cloudTransactions[3]!.data.success = false;
  t.deepEqual(failing(e), []);
});

const busy = { timestamp: 1, device_id: 'D', ack_command_id: 'C1', command_type: 'coin_dispense', status: 'failed' as const, result: { error_code: 'BUSY', error: '機台忙碌中' } };

test('a BUSY answer, then the result of a later copy of the same id: no violation', (t) => {
  // BUSY executed nothing and spends no id (docs/commands.md#error-codes): the cloud sends the same id again.
  const e = consistent();
  e.commands[0]!.results.unshift(busy);
  t.deepEqual(failing(e), []);
});

const bugs: Array<[string, Array<1 | 2 | 3 | 4 | 5 | 'rest'>, (e: Evidence) => void]> = [
  ['a bill in the cash box the books never counted', [1], (e) => {
    e.truth = parsePhysicalTruth({ initialized_at: '1', inventory: '26', initial_inventory: '100', dispensed: '74', bills_100: '2', bills_500: '1', coins_50: '1' });
  }],
  ['a credit counted twice (counters only)', [1], (e) => {
    e.counters.total_bills += 100;
    e.counters.balance += 100;
  }],
  ['a double payout: ten coins left the hopper that the books do not know of', [4], (e) => {
    e.truth = parsePhysicalTruth({ initialized_at: '1', inventory: '16', initial_inventory: '100', dispensed: '84', bills_100: '1', bills_500: '1', coins_50: '1' });
    e.booksInventory = 16;
  }],
  ['a lost debt: 12 coins owed, never paid, not recorded', [2], (e) => {
    e.counters.total_dispensed = 62;
    e.truth = parsePhysicalTruth({ initialized_at: '1', inventory: '38', initial_inventory: '100', dispensed: '62', bills_100: '1', bills_500: '1', coins_50: '1' });
    e.booksInventory = 38;
  }],
  ['an exchange short-paid without its debt on record', [2], (e) => {
    e.journal[0] = txn('TXN_20260101_100000_001', 'm1', 'exchange', 100, 0, 8);
    e.cloudTransactions[0] = { messageId: 'm1', data: structuredClone(e.journal[0].data) };
  }],
  ['a remote command executed twice', [3], (e) => {
    const again = txn('REMOTE_20260101_100400_002', 'm5', 'remote_dispense', 0, 0, 7, 0, 'C1');
    e.journal.push(again);
    e.cloudTransactions.push({ messageId: 'm5', data: structuredClone(again.data) });
    e.counters.total_dispensed += 7;
    e.counters.remote_dispensed += 7;
    e.truth = parsePhysicalTruth({ initialized_at: '1', inventory: '19', initial_inventory: '100', dispensed: '81', bills_100: '1', bills_500: '1', coins_50: '1' });
    e.booksInventory = 19;
  }],
  ['a jammed remote dispense reported as a success', [3], (e) => {
    e.commands[0]!.coins = 9;
  }],
  ['a refused command that paid anyway', [3], (e) => {
    e.commands[0]!.results = [{ timestamp: 1, device_id: 'D', ack_command_id: 'C1', command_type: 'coin_dispense', status: 'failed', result: { error_code: 'MACHINE_LOCKED', error: 'locked' } }];
  }],
  ['a command answered only BUSY that paid anyway', [3], (e) => {
    e.commands[0]!.results = [busy];
  }],
  ['a journal entry that never reached the cloud', [5], (e) => {
    e.cloudTransactions.pop();
    e.replay = { missing: ['m4'], recovered: [] };
    e.droppedLogged = ['m4'];
    e.delivery.dropped = 1;
  }],
  ['an error-51 decision journaled but never at the cloud', [5], (e) => {
    e.cloudMessageIds.pop();
  }],
  ['a transaction missing at the cloud that no overflow dropped', [5], (e) => {
    e.replay = { missing: ['m3'], recovered: ['m3'] };
  }],
  ['one transaction sent to the cloud under two message ids', [5], (e) => {
    e.cloudTransactions.push({ messageId: 'm9', data: structuredClone(e.journal[1]!.data) });
  }],
  ['a transaction given up with the cloud reachable', [5], (e) => {
    e.failedMessages = [{ id: 'm2', type: 'transaction' }];
  }],
  ['the system never came to rest', ['rest'], (e) => {
    e.settle = { settled: false, unmet: ['1 payouts in the lane'] };
  }],
];

for (const [bug, invariants, mutate] of bugs) {
  test(`caught: ${bug}`, (t) => {
    const e = consistent();
    mutate(e);
    const failed = failing(e);
    t.true(failed.length > 0, 'some check fails');
    t.deepEqual([...new Set(failed.map((c) => c.invariant))], invariants, failed.map((c) => `[${c.invariant}] ${c.name}: ${c.detail}`).join('\n'));
  });
}

test('the plan is reproducible from its seed and shows every fault kind', (t) => {
  const o = { minutes: 1, seed: 12345, faultsPerMinute: 2, exchangesPerMinute: 30, dispensesPerMinute: 3 };
  const a = makePlan(o);
  t.deepEqual(makePlan(o), a);
  t.notDeepEqual(makePlan({ ...o, seed: 54321 }), a);
  t.deepEqual([...new Set(a.faults.map((f) => f.action.kind))].sort(), [...faultKinds].sort());
  t.true(a.faults.every((f) => f.at >= 2_000 && f.at <= a.durationMs - 5_000));
  t.true(a.work.every((w, i) => w.at < a.durationMs && (i === 0 || a.work[i - 1]!.at <= w.at)));
  const outages = a.faults.filter((f) => f.action.kind === 'broker_outage');
  t.true(outages[0]!.action.kind === 'broker_outage' && outages[0]!.action.burst.length >= 14, 'the first broker outage brings a crowd');
});

test('a ccTalk plan adds the peripherals\' faults and drops what they cannot do; the simulator plan is unchanged', (t) => {
  const o = { minutes: 3, seed: 777, faultsPerMinute: 4, exchangesPerMinute: 30, dispensesPerMinute: 3 };
  const cctalk = makePlan({ ...o, hardware: 'cctalk' });
  t.deepEqual([...new Set(cctalk.faults.map((f) => f.action.kind))].sort(), [...faultKinds, ...cctalkFaultKinds].sort());
  t.false(cctalk.work.some((w) => w.action.kind === 'door' || w.action.kind === 'sim_fault' || (w.action.kind === 'sim_clear' && w.action.code !== 41)));
  t.deepEqual(makePlan({ ...o, hardware: 'sim' }), makePlan(o));
});

test('a hopper that does not count: the books keep no inventory, and one they keep is still compared', (t) => {
  const e = consistent();
  e.hopperCounts = false;
  e.booksInventory = null;
  t.deepEqual(failing(e), []);
  e.booksInventory = 0;
  t.deepEqual([...new Set(failing(e).map((c) => c.invariant))], [4]);
});
