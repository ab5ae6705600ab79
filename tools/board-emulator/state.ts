/**
 * The emulated board's non-volatile memory: one JSON file, replaced
 * atomically (write temp, fsync, rename, fsync the folder) on every change,
 * so a SIGKILL at any point leaves either the old or the new state, the way
 * a real board's FRAM would.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BoardEvent, PayoutRecord } from '../../shared/board-link/messages.js';

export interface PendingEvent {
  eventId: number;
  /** Emulator clock, epoch ms. */
  createdAt: number;
  event: BoardEvent;
}

export interface BoardState {
  /** Random at first start; a board that lost its memory gets a new id, so event ids never repeat. */
  boardId: string;
  /** Last event id assigned. */
  eventCounter: number;
  /** Events not yet ACKed by the agent, oldest first. */
  pending: PendingEvent[];
  inventory: number;
  doorOpen: boolean;
  acceptorsEnabled: boolean;
  /** Denominations refused even when enabled (absent in state files of older emulators). */
  inhibit?: number[];
  faults: number[];
  /** Known payouts, oldest first (the last MAX_PAYOUTS). */
  payouts: PayoutRecord[];
  display: string;
  /** Physical truth for tests: cash taken in (NTD) and coins that left the hopper. */
  totals: { bills: number; coins: number; paidOut: number };
}

/** Payouts remembered for duplicate detection and STATUS; older ones are forgotten. */
export const MAX_PAYOUTS = 256;

export function initialState(inventory: number): BoardState {
  return {
    boardId: randomBytes(8).toString('hex'),
    eventCounter: 0,
    pending: [],
    inventory,
    doorOpen: false,
    acceptorsEnabled: true,
    inhibit: [],
    faults: [],
    payouts: [],
    display: '',
    totals: { bills: 0, coins: 0, paidOut: 0 },
  };
}

export function loadState(file: string, inventory: number): BoardState {
  if (!existsSync(file)) return initialState(inventory);
  return JSON.parse(readFileSync(file, 'utf8')) as BoardState;
}

export function saveState(file: string, state: BoardState): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(state));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
