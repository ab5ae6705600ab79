/** `transaction` message data (docs/protocol.md#transaction) of a finished transaction. */
import { formatTimestamp, type TimestampFormat } from '../../../shared/clock.js';
import type { TransactionData } from '../../../shared/messages.js';
import type { OpenTransaction } from '../state/records.js';

export interface Finish {
  /** Coins paid by every attempt. */
  paid: number;
  /** Epoch ms the payout finished. */
  doneAt: number;
  /** Remote only: the balance now (a remote dispense leaves it unchanged). */
  balance: number;
}

export function transactionData(t: OpenTransaction, f: Finish, format: TimestampFormat): TransactionData {
  const unpaid = Math.max(0, t.due - f.paid);
  const remote = t.type === 'remote_dispense';
  const data: TransactionData = {
    transaction_type: t.type,
    transaction_id: t.txnId,
    amounts: {
      bills_inserted: t.bills,
      coins_inserted: t.coinsIn,
      coins_dispensed: f.paid,
      transaction_amount: remote ? 0 : t.amount,
      coin_value: 10,
    },
    balance: remote ? { before: f.balance, after: f.balance } : { before: t.balanceBefore, after: t.balanceAfter },
    timing: {
      start_time: formatTimestamp(t.startAt, format),
      dispense_time: formatTimestamp(f.doneAt, format),
      duration_ms: Math.max(0, f.doneAt - t.startAt),
    },
    success: unpaid === 0,
  };
  if (remote) {
    data.command_id = t.commandId;
    data.remote_details = { operator_account: t.operator, coins_dispensed: f.paid, reason: t.reason };
  } else if (unpaid > 0) {
    // The coins this transaction still owes the customer (docs/protocol.md#transaction).
    data.debt_coins = unpaid;
  }
  return data;
}

/**
 * A debt payout as a transaction (`debt_payout`), carrying the transaction_id
 * of the exchange that left the debt, so that the coins of all transactions
 * add up to `counters.total_dispensed`. `debt_coins` is what is still owed.
 */
export function debtPayoutData(
  p: { originTxnId: string; paid: number; startAt: number; doneAt: number; balance: number; debtAfter: number },
  format: TimestampFormat,
): TransactionData {
  return {
    transaction_type: 'debt_payout',
    transaction_id: p.originTxnId,
    amounts: { bills_inserted: 0, coins_inserted: 0, coins_dispensed: p.paid, transaction_amount: 0, coin_value: 10 },
    balance: { before: p.balance, after: p.balance },
    timing: { start_time: formatTimestamp(p.startAt, format), dispense_time: formatTimestamp(p.doneAt, format), duration_ms: Math.max(0, p.doneAt - p.startAt) },
    success: p.debtAfter === 0,
    debt_coins: p.debtAfter,
  };
}
