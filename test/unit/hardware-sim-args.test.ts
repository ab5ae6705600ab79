/** `coinerex sim` arguments: each action's control job, and errors naming the bad argument. */
import test from 'ava';
import { parseSimArgs } from '../../cli/commands/sim.js';
import { UsageError } from '../../shared/errors.js';

const ok: [string[], unknown][] = [
  [['bill', '100'], { action: 'bill', amount: 100 }],
  [['bill', '1000'], { action: 'bill', amount: 1000 }],
  [['bill', '200'], { action: 'bill', amount: 200 }],
  [['bill', '2000'], { action: 'bill', amount: 2000 }],
  [['coin', '50'], { action: 'coin', amount: 50 }],
  [['coin', '1'], { action: 'coin', amount: 1 }],
  [['coin', '10'], { action: 'coin', amount: 10 }],
  [['fault', '41'], { action: 'fault', code: 41 }],
  [['clear', '44'], { action: 'clear', code: 44 }],
  [['door', 'open'], { action: 'door', open: true }],
  [['door', 'close'], { action: 'door', open: false }],
  [['refill', '500'], { action: 'refill', coins: 500 }],
  [['jam'], { action: 'jam' }],
];

for (const [args, job] of ok) {
  test(`sim ${args.join(' ')}`, (t) => t.deepEqual(parseSimArgs(args), job));
}

const bad: [string[], RegExp][] = [
  [[], /missing action/],
  [['dance'], /unknown action "dance"/],
  [['bill'], /missing bill amount/],
  [['bill', '300'], /bad bill amount "300"/],
  [['coin', '20'], /bad coin amount "20"/],
  [['fault', 'x'], /bad error code "x"/],
  [['fault', '3'], /bad error code "3"/],
  [['door', 'ajar'], /bad door position "ajar"/],
  [['refill', '0'], /bad coin count "0"/],
  [['refill', '-5'], /bad coin count "-5"/],
  [['jam', 'now'], /unexpected argument "now"/],
  [['bill', '100', '500'], /unexpected argument "500"/],
];

for (const [args, message] of bad) {
  test(`sim ${args.join(' ') || '(nothing)'} is refused`, (t) => {
    const err = t.throws(() => parseSimArgs(args));
    t.true(err instanceof UsageError);
    t.regex(err!.message, message);
  });
}
