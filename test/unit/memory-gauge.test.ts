/**
 * The Redis memory gauge is rewritten only on a real move: at idle used
 * memory drifts by the clients' buffers of the moment (tens of kilobytes at
 * each reading), and every rewrite is an fsync of the board's SD card.
 */
import test from 'ava';
import { gaugeMoved } from '../../workers/business/state/memory-watch.js';

const MB = 1024 * 1024;
const maxmemory = 128 * MB;

test('the first reading is always written', (t) => {
  t.true(gaugeMoved(null, { used: 2.3 * MB, max: maxmemory }));
});

test('idle drift of a few percent of used memory is no rewrite under a maxmemory', (t) => {
  // Readings of an idle bench stack 10 s apart: 2,383,064 → 2,465,024 → 2,342,008 bytes.
  t.false(gaugeMoved(2_383_064, { used: 2_465_024, max: maxmemory }));
  t.false(gaugeMoved(2_383_064, { used: 2_342_008, max: maxmemory }));
});

test('a move of 1 % of maxmemory is written', (t) => {
  t.true(gaugeMoved(2 * MB, { used: 2 * MB + 0.01 * maxmemory, max: maxmemory }));
  t.true(gaugeMoved(16 * MB, { used: 14 * MB, max: maxmemory }));
});

test('without a limit, 1 % of the last reading', (t) => {
  t.false(gaugeMoved(10 * MB, { used: 10.05 * MB, max: 0 }));
  t.true(gaugeMoved(10 * MB, { used: 10.2 * MB, max: 0 }));
});
