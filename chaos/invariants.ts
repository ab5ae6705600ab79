/**
 * The money-safety invariants of docs/architecture.md#money-safety-invariants (1–5), checked on the
 * evidence gathered after a chaos run: the simulator's physical truth, the
 * business app's counters and journal, the cloud's receipts (de-duplicated
 * by message_id) and the commands the cloud sent. Pure, so it is tested on
 * hand-made evidence too. Nothing is tolerated: every failed check is a
 * violation.
 */
import type { DeliveryStats } from '../shared/delivery-state.js';
import type { Counters } from '../shared/machine-state.js';
import type { CommandResult } from '../shared/messages.js';
import type { PhysicalTruth } from '../shared/physical-truth.js';
import canonicalizeModule from 'canonicalize';

// CommonJS package whose typings declare an ES default export (as in shared/command-signature.ts).
const canonical = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** What a transaction message's data holds, as far as the checks go. */
export interface TxnData {
  transaction_type: 'exchange' | 'remote_dispense' | 'debt_payout';
  transaction_id: string;
  command_id?: string;
  amounts: { bills_inserted: number; coins_inserted: number; coins_dispensed: number };
  success: boolean;
  debt_coins?: number;
}

export interface JournalRecord {
  transactionId: string;
  messageId: string;
  data: TxnData;
}

export interface CloudTransaction {
  messageId: string;
  data: TxnData;
}

export interface CommandRecord {
  id: string;
  type: string;
  /** coin_dispense: coins asked for. */
  coins: number | null;
  /** Every result the cloud received for it. */
  results: CommandResult[];
}

export interface Evidence {
  truth: PhysicalTruth;
  counters: Counters;
  /** The books' idea of the hopper; null while the hardware never reported a level. */
  booksInventory: number | null;
  /** Whether the hopper counts its coins (ccTalk hoppers do not: the books then keep no inventory). */
  hopperCounts: boolean;
  /** The journal's transactions. */
  journal: JournalRecord[];
  /** The journal's other entries: the operator's error-51 decisions. */
  decisions: Array<{ entry: string; messageId: string }>;
  /** message_id of every distinct message the cloud received. */
  cloudMessageIds: string[];
  /** Distinct transaction messages the cloud received (first copy of each message_id). */
  cloudTransactions: CloudTransaction[];
  commands: CommandRecord[];
  bonusTable: Readonly<Record<string, number>>;
  delivery: DeliveryStats;
  /** Message ids the mqtt app logged as dropped by the overflow rule. */
  droppedLogged: string[];
  /** Journal message ids the cloud lacked before the transactions queries, and those that arrived after. */
  replay: { missing: string[]; recovered: string[] };
  /** Given-up messages (no ACK after the last retransmission). */
  failedMessages: Array<{ id: string; type: string }>;
  settle: { settled: boolean; unmet: string[] };
}

export interface Check {
  invariant: 1 | 2 | 3 | 4 | 5 | 'rest';
  name: string;
  ok: boolean;
  /** Numbers behind the verdict; on failure, what differs. */
  detail: string;
}

/** Error codes a refusal carries: the command did not execute, so it must have no journal entry. */
/** A BUSY refusal: the device could not verify the command in time and executed nothing. */
export function isBusy(r: CommandResult): boolean {
  return r.status === 'failed' && r.result?.error_code === 'BUSY';
}

const refusalCodes = new Set(['INVALID_COMMAND', 'UNKNOWN_COMMAND', 'UNAUTHENTICATED', 'EXPIRED', 'MACHINE_LOCKED', 'MACHINE_FAULT', 'INSUFFICIENT_COINS', 'LIMIT_EXCEEDED', 'NOT_PERMITTED', 'BUSY']);

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);
const list = (xs: readonly string[], max = 10) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} … (${xs.length} in all)`);

function countBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

export function checkInvariants(e: Evidence): Check[] {
  const checks: Check[] = [];
  const check = (invariant: Check['invariant'], name: string, ok: boolean, detail: string) => checks.push({ invariant, name, ok, detail });
  const eq = (invariant: Check['invariant'], name: string, a: [string, number], b: [string, number]) =>
    check(invariant, name, a[1] === b[1], `${a[0]} ${a[1]} ${a[1] === b[1] ? '==' : '!='} ${b[0]} ${b[1]}`);

  const exchanges = e.journal.filter((j) => j.data.transaction_type === 'exchange');
  const remotes = e.journal.filter((j) => j.data.transaction_type === 'remote_dispense');
  const t = e.truth;
  const physicalItems = t.bills[100] + t.bills[500] + t.bills[1000] + t.coins50;

  // The system must be at rest, or the books are judged mid-flight.
  check('rest', 'system settled (apps online, lane empty, no open transaction, queues drained, all ACKed)', e.settle.settled, e.settle.settled ? 'at rest' : `still: ${e.settle.unmet.join('; ')}`);

  // 1. Every accepted bill or coin counted exactly once.
  eq(1, 'total_bills == NTD of bills in the cash box', ['total_bills', e.counters.total_bills], ['physical', t.billsNtd]);
  eq(1, 'total_coins == NTD of 50-coins in the cash box', ['total_coins', e.counters.total_coins], ['physical', t.coinsNtd]);
  eq(1, 'Σ journal bills_inserted == bills in the cash box', ['journal', sum(exchanges, (j) => j.data.amounts.bills_inserted)], ['physical', t.billsNtd]);
  eq(1, 'Σ journal coins_inserted == 50-coins in the cash box', ['journal', sum(exchanges, (j) => j.data.amounts.coins_inserted)], ['physical', t.coinsNtd]);
  eq(1, 'one exchange transaction per accepted bill or coin', ['exchange entries', exchanges.length], ['accepted items', physicalItems]);
  eq(1, 'balance == cash taken in', ['balance', e.counters.balance], ['total_bills + total_coins', e.counters.total_bills + e.counters.total_coins]);

  // 2. Every credit paid exactly once or recorded as debt.
  const owed = (j: JournalRecord) => {
    const amount = j.data.amounts.bills_inserted + j.data.amounts.coins_inserted;
    return amount / 10 + (e.bonusTable[String(amount)] ?? 0);
  };
  const wrongSplit = exchanges.filter((j) => j.data.amounts.coins_dispensed + (j.data.debt_coins ?? 0) !== owed(j));
  check(2, 'each exchange: coins paid + debt recorded == amount/10 + bonus', wrongSplit.length === 0,
    wrongSplit.length === 0 ? `${exchanges.length} exchanges` : `wrong: ${list(wrongSplit.map((j) => `${j.transactionId} paid ${j.data.amounts.coins_dispensed} + debt ${j.data.debt_coins ?? 0} != owed ${owed(j)}`))}`);
  const badFlag = exchanges.filter((j) => j.data.success !== ((j.data.debt_coins ?? 0) === 0));
  check(2, 'an exchange is unsuccessful exactly when it recorded debt', badFlag.length === 0, badFlag.length === 0 ? 'consistent' : `inconsistent: ${list(badFlag.map((j) => j.transactionId))}`);
  const exchangeAndDebtPaid = e.counters.total_dispensed - e.counters.remote_dispensed;
  eq(2, 'coins owed (Σ owed − coins paid to customers) == debt_coins', ['Σ owed − paid', sum(exchanges, owed) - exchangeAndDebtPaid], ['debt_coins', e.counters.debt_coins]);
  const bonusPaid = sum(exchanges, (j) => Math.max(0, (e.bonusTable[String(j.data.amounts.bills_inserted + j.data.amounts.coins_inserted)] ?? 0) - (j.data.debt_coins ?? 0)));
  eq(2, 'bonus_coins == bonus owed less what went unpaid', ['bonus_coins', e.counters.bonus_coins], ['journal', bonusPaid]);

  // 3. A remote-dispense command_id executes at most once.
  const perCommand = countBy(remotes, (j) => j.data.command_id ?? '(none)');
  const twice = [...perCommand].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
  check(3, 'at most one REMOTE journal entry per command_id', twice.length === 0, twice.length === 0 ? `${remotes.length} remote dispenses, ${perCommand.size} command ids` : `executed more than once: ${list(twice)}`);
  const byId = new Map(e.commands.map((c) => [c.id, c]));
  const phantom = remotes.filter((j) => byId.get(j.data.command_id ?? '')?.type !== 'coin_dispense');
  check(3, 'every REMOTE entry answers a coin_dispense the cloud sent', phantom.length === 0, phantom.length === 0 ? 'all known' : `unknown: ${list(phantom.map((j) => `${j.transactionId} (${j.data.command_id})`))}`);
  const overpaid = remotes.filter((j) => j.data.amounts.coins_dispensed > (byId.get(j.data.command_id ?? '')?.coins ?? Infinity));
  check(3, 'no remote dispense paid more than asked', overpaid.length === 0, overpaid.length === 0 ? 'none' : list(overpaid.map((j) => `${j.transactionId} paid ${j.data.amounts.coins_dispensed} of ${byId.get(j.data.command_id ?? '')?.coins}`)));
  // A remote shortfall is not owed to a customer, so it is no debt (workers/business/exchange/transaction-message.ts): success says whether all was paid.
  const remoteFlag = remotes.filter((j) => {
    const asked = byId.get(j.data.command_id ?? '')?.coins;
    return asked !== undefined && asked !== null && j.data.success !== (j.data.amounts.coins_dispensed === asked);
  });
  check(3, 'a remote dispense is successful exactly when it paid all it was asked', remoteFlag.length === 0, remoteFlag.length === 0 ? 'consistent' : `inconsistent: ${list(remoteFlag.map((j) => j.transactionId))}`);
  eq(3, 'remote_dispensed == Σ REMOTE coins_dispensed', ['remote_dispensed', e.counters.remote_dispensed], ['journal', sum(remotes, (j) => j.data.amounts.coins_dispensed)]);
  const resultProblems: string[] = [];
  for (const c of e.commands) {
    // BUSY executed nothing and spends no id (docs/commands.md#error-codes): a later copy may still run.
    const answers = c.results.filter((r) => !isBusy(r));
    const entries = perCommand.get(c.id) ?? 0;
    if (answers.length === 0) {
      if (c.results.length > 0 && entries !== 0) resultProblems.push(`${c.id}: only BUSY answers yet ${entries} journal entries`);
      continue;
    }
    const first = canonical([answers[0]!.status, answers[0]!.result]);
    if (answers.some((r) => canonical([r.status, r.result]) !== first)) resultProblems.push(`${c.id}: repeats answered differently`);
    if (c.type !== 'coin_dispense') continue;
    const r = answers[0]!;
    const code = String(r.result.error_code ?? '');
    if (r.status === 'success' && entries !== 1) resultProblems.push(`${c.id}: success but ${entries} journal entries`);
    if (r.status === 'failed' && refusalCodes.has(code) && entries !== 0) resultProblems.push(`${c.id}: refused (${code}) yet ${entries} journal entries`);
    const entry = remotes.find((j) => j.data.command_id === c.id);
    if (entry && typeof r.result.coins_dispensed === 'number' && r.result.coins_dispensed !== entry.data.amounts.coins_dispensed) {
      resultProblems.push(`${c.id}: result says ${r.result.coins_dispensed} coins, journal ${entry.data.amounts.coins_dispensed}`);
    }
  }
  check(3, 'command results agree with the journal, repeats get the original result', resultProblems.length === 0, resultProblems.length === 0 ? `${e.commands.filter((c) => c.results.length > 0).length} commands answered` : list(resultProblems));

  // 4. Counters, journal and physical truth agree.
  eq(4, 'total_dispensed == coins that physically left the hopper', ['total_dispensed', e.counters.total_dispensed], ['physical', t.dispensed]);
  eq(4, 'hopper: initial + refilled − dispensed == inventory', ['initial + refilled − dispensed', t.initialInventory + t.refilled - t.dispensed], ['inventory', t.inventory]);
  if (e.hopperCounts || e.booksInventory !== null) eq(4, "the books' inventory == the hopper's", ['books', e.booksInventory ?? -1], ['physical', t.inventory]);
  else check(4, "the books keep no inventory of a hopper that does not count", true, `hopper ${t.inventory}, books none`);
  const journalPaid = sum(e.journal, (j) => j.data.amounts.coins_dispensed);
  check(4, 'journal payouts ≤ total_dispensed (the rest is debt paid later)', journalPaid <= e.counters.total_dispensed, `journal ${journalPaid}, total_dispensed ${e.counters.total_dispensed}`);

  // 5. Every journal entry reached the cloud; only overflow drops, recovered by a transactions query.
  const idCount = countBy(e.journal, (j) => j.messageId);
  const reusedIds = [...idCount].filter(([, n]) => n > 1).map(([id]) => id);
  const txnIdMismatch = e.journal.filter((j) => j.data.transaction_id !== j.transactionId);
  check(5, 'no transaction_id or message_id twice in the journal', reusedIds.length === 0 && txnIdMismatch.length === 0,
    reusedIds.length + txnIdMismatch.length === 0 ? `${e.journal.length} entries` : `message ids reused: ${list(reusedIds)}; index/id mismatch: ${list(txnIdMismatch.map((j) => j.transactionId))}`);
  // A debt payout's transaction carries the transaction_id of the exchange that left the debt and is not journaled itself.
  const debtPayouts = e.cloudTransactions.filter((c) => c.data.transaction_type === 'debt_payout');
  const cloudTxns = e.cloudTransactions.filter((c) => c.data.transaction_type !== 'debt_payout');
  const journaledIds = new Set(e.journal.map((j) => j.transactionId));
  const orphanDebt = debtPayouts.filter((c) => !journaledIds.has(c.data.transaction_id));
  check(5, 'every debt payout the cloud got names a journaled exchange', orphanDebt.length === 0, orphanDebt.length === 0 ? `${debtPayouts.length} debt payouts` : `unknown exchange: ${list(orphanDebt.map((c) => `${c.data.transaction_id} (${c.messageId})`))}`);
  const cloudByTxn = countBy(cloudTxns, (c) => c.data.transaction_id);
  const doubled = [...cloudByTxn].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
  check(5, 'the cloud saw each transaction_id under one message_id', doubled.length === 0, doubled.length === 0 ? `${cloudByTxn.size} transactions` : `recorded twice: ${list(doubled)}`);
  const journalById = new Map(e.journal.map((j) => [j.messageId, j]));
  const phantomAtCloud = cloudTxns.filter((c) => journalById.get(c.messageId)?.transactionId !== c.data.transaction_id);
  check(5, 'every transaction the cloud got is in the journal', phantomAtCloud.length === 0, phantomAtCloud.length === 0 ? 'all journaled' : `not in the journal: ${list(phantomAtCloud.map((c) => `${c.data.transaction_id} (${c.messageId})`))}`);
  const altered = cloudTxns.filter((c) => journalById.has(c.messageId) && canonical(c.data) !== canonical(journalById.get(c.messageId)!.data));
  check(5, 'the cloud got each transaction as journaled', altered.length === 0, altered.length === 0 ? 'identical' : `differs: ${list(altered.map((c) => c.data.transaction_id))}`);
  const atCloud = new Set(e.cloudTransactions.map((c) => c.messageId));
  const neverArrived = e.journal.filter((j) => !atCloud.has(j.messageId));
  check(5, 'every journal entry reached the cloud (directly or by replay)', neverArrived.length === 0, neverArrived.length === 0 ? `${e.journal.length} of ${e.journal.length}` : `missing after the transactions queries: ${list(neverArrived.map((j) => `${j.transactionId} (${j.messageId})`))}`);
  const atCloudAny = new Set(e.cloudMessageIds);
  const decisionsMissing = e.decisions.filter((d) => !atCloudAny.has(d.messageId));
  check(5, 'every journaled error-51 decision reached the cloud', decisionsMissing.length === 0, decisionsMissing.length === 0 ? `${e.decisions.length} decisions` : `missing: ${list(decisionsMissing.map((d) => `${d.entry} (${d.messageId})`))}`);
  const logged = new Set(e.droppedLogged);
  const unloggedDrops = Math.max(0, e.delivery.dropped - logged.size);
  const unexplained = e.replay.missing.filter((id) => !logged.has(id));
  check(5, 'only overflow drops were missing before the replay', unexplained.length <= unloggedDrops,
    `${e.replay.missing.length} missing, ${e.replay.missing.length - unexplained.length} logged as overflow drops, ${unexplained.length} not (${unloggedDrops} drops counted but not logged)${unexplained.length > unloggedDrops ? `: ${list(unexplained)}` : ''}`);
  const givenUpTxns = e.failedMessages.filter((m) => m.type === 'transaction');
  check(5, 'no transaction given up with the cloud reachable', givenUpTxns.length === 0, givenUpTxns.length === 0 ? `${e.failedMessages.length} other messages given up` : `given up: ${list(givenUpTxns.map((m) => m.id))}`);
  return checks;
}
