/** The NTD cash the machine takes and pays: one list, shared by the queues, the config and the board link. */
import { z } from 'zod';

/** Every NTD bill and coin in circulation (docs/board-link.md §5). Customers are paid in 10 NTD coins. */
export const billAmounts = [100, 200, 500, 1000, 2000] as const;
export const coinAmounts = [1, 5, 10, 50] as const;
export const cashAmounts = [...coinAmounts, ...billAmounts] as const;
export type BillAmount = (typeof billAmounts)[number];
export type CoinAmount = (typeof coinAmounts)[number];
export type CashAmount = (typeof cashAmounts)[number];
export const billAmountSchema = z.literal(billAmounts);
export const coinAmountSchema = z.literal(coinAmounts);
export const cashAmountSchema = z.literal(cashAmounts);
