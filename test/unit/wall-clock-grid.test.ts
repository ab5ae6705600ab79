/**
 * onWallClockGrid (shared/clock.ts): one run per wall-clock multiple of the
 * period, never two in one, one at a time, none after stop.
 */
import test from 'ava';
import { onWallClockGrid } from '../../shared/clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('runs once per multiple of the period, one at a time, and not after stop', async (t) => {
  const period = 40;
  const runs: number[] = [];
  let running = 0;
  let overlapped = false;
  const stop = onWallClockGrid(period, async () => {
    if (running++ > 0) overlapped = true;
    runs.push(Date.now());
    await sleep(period * 1.5);
    running--;
  });
  await sleep(period * 12);
  stop();
  const count = runs.length;
  await sleep(period * 4);
  t.is(runs.length, count, 'nothing after stop');
  t.true(count >= 2, `ran ${count} times`);
  t.false(overlapped);
  const slots = runs.map((at) => Math.floor(at / period));
  t.true(slots.every((s, i) => i === 0 || s > slots[i - 1]!), `one run per multiple: slots ${slots.join(',')}`);
});

test('a failing run does not stop the next ones', async (t) => {
  let n = 0;
  const stop = onWallClockGrid(20, () => {
    n++;
    throw new Error('boom');
  });
  await sleep(200);
  stop();
  t.true(n >= 2, `ran ${n} times`);
});
