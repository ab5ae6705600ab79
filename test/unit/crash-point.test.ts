/** The crash-point hook's pure parts: the spec it is given and the signature it counts by. */
import test from 'ava';
import { parseCrashPoint, signature } from '../../shared/crash-point.js';
import { everyPoint, spread, type Write } from '../crashpoints/explore.js';

test('parseCrashPoint: <app>:<k>:<before|after>, k from 1', (t) => {
  t.deepEqual(parseCrashPoint('business:12:before'), { app: 'business', k: 12, when: 'before' });
  t.deepEqual(parseCrashPoint(' mqtt:1:after '), { app: 'mqtt', k: 1, when: 'after' });
  t.is(parseCrashPoint('business:0:before'), null);
  t.is(parseCrashPoint('business:3'), null);
  t.is(parseCrashPoint('business:x:after'), null);
  t.is(parseCrashPoint('business:3:during'), null);
});

test('signature: prefix, device id and id-like key segments are masked, names kept', (t) => {
  t.is(signature('evalsha', 'addStandardJob', 'tab12:T_ab12:bull:outbox:wait', 'tab12', 'T_ab12'), 'evalsha|addStandardJob|<p>:<dev>:bull:outbox:wait');
  t.is(signature('hset', '', 'tab12:T_ab12:txn:TXN_20261207_1', 'tab12', 'T_ab12'), 'hset||<p>:<dev>:txn:*');
  // Two runs of the same path under different prefixes and ids give the same signature.
  t.is(signature('exec', 'hset', 'p1:D1:applied:hw-9', 'p1', 'D1'), signature('exec', 'hset', 'p2:D2:applied:hw-17', 'p2', 'D2'));
});

test('point selection: every write before and after; the short tier a few, deterministically', (t) => {
  const w = (app: Write['app'], k: number): Write => ({ app, k, sig: `s${k}`, cmd: 'evalsha', script: 'x', key: '', occurrence: 1 });
  const writes = [w('hardware', 1), w('hardware', 2), w('business', 1), w('business', 2), w('business', 3), w('mqtt', 1)];
  t.is(everyPoint(writes).length, 12);
  const few = spread(3)(writes);
  t.deepEqual(few.map((p) => `${p.write.app}:${p.write.k}:${p.when}`), ['hardware:2:before', 'business:2:after', 'mqtt:1:before']);
  t.deepEqual(spread(3)(writes), few);
  t.deepEqual(spread(1, 1)(writes).map((p) => `${p.write.app}:${p.write.k}:${p.when}`), ['business:2:after']);
  t.deepEqual(spread(3)([]), []);
});
