import test from 'ava';
import { fixedClock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { Metrics } from '../../shared/metrics.js';
import { answerLimit } from '../../workers/business/commands/answer-limit.js';

function setup(perSecond: number) {
  const clock = fixedClock(1_000);
  const counted: string[] = [];
  const logged: unknown[] = [];
  const metrics: Metrics = { incr: (name) => void counted.push(name), observe: () => undefined, set: () => undefined };
  const log = { warn: (obj: unknown) => void logged.push(obj) } as unknown as Logger;
  return { clock, counted, logged, limit: answerLimit(perSecond, clock, log, metrics) };
}

test('a burst of 5x the rate is answered, then the rate; the excess is counted one by one and logged as one line', (t) => {
  const s = setup(2);
  const taken = Array.from({ length: 13 }, () => s.limit.take());
  t.deepEqual(taken, [...Array<boolean>(10).fill(true), false, false, false]);
  s.clock.advance(500);
  t.deepEqual([s.limit.take(), s.limit.take()], [true, false]);
  t.deepEqual(s.counted, Array<string>(4).fill('commands_unanswered_total'));
  t.deepEqual(s.logged, [], 'nothing logged per refusal');
  s.limit.close();
  t.deepEqual(s.logged, [{ unanswered: 4, perSecond: 2 }]);
});

test('nothing unanswered: no timer, nothing logged', (t) => {
  const s = setup(1);
  t.true(s.limit.take());
  s.limit.close();
  t.deepEqual(s.logged, []);
});
