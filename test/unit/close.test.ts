/**
 * The shutdown sequence (shared/close.ts): steps in the order given, once,
 * a failing or hanging step does not keep the later ones (the connections)
 * from closing.
 */
import test from 'ava';
import { closeInOrder, quitStep } from '../../shared/close.js';

function recorder() {
  const warnings: Array<{ step: unknown; msg: string }> = [];
  return { warnings, log: { warn: (obj: object, msg: string) => void warnings.push({ step: (obj as { step?: unknown }).step, msg }) } };
}

test('steps run one after the other in the order given, each awaited before the next starts', async (t) => {
  const { log, warnings } = recorder();
  const order: string[] = [];
  const close = closeInOrder(
    [
      { name: 'a', run: () => new Promise((r) => setTimeout(r, 20)).then(() => order.push('a')) },
      false,
      { name: 'b', run: () => void order.push('b') },
      undefined,
      { name: 'c', run: async () => void order.push('c') },
    ],
    { log },
  );
  await close();
  t.deepEqual(order, ['a', 'b', 'c']);
  t.deepEqual(warnings, []);
});

test('idempotent: every call returns the same promise and the steps run once', async (t) => {
  const { log } = recorder();
  let runs = 0;
  const close = closeInOrder([{ name: 'once', run: async () => void runs++ }], { log });
  const first = close();
  t.is(close(), first);
  await first;
  await close();
  t.is(runs, 1);
});

test('a failing step is reported and the later steps still run', async (t) => {
  const { log, warnings } = recorder();
  const order: string[] = [];
  const close = closeInOrder(
    [
      {
        name: 'throws',
        run: () => {
          throw new Error('sync');
        },
      },
      { name: 'rejects', run: () => Promise.reject(new Error('async')) },
      { name: 'last', run: () => void order.push('last') },
    ],
    { log },
  );
  await t.notThrowsAsync(close());
  t.deepEqual(order, ['last']);
  t.deepEqual(warnings.map((w) => w.step), ['throws', 'rejects']);
});

test('a step that hangs past its timeout is reported and the sequence goes on', async (t) => {
  const { log, warnings } = recorder();
  const order: string[] = [];
  const started = Date.now();
  const close = closeInOrder(
    [
      { name: 'hangs', run: () => new Promise(() => undefined) },
      { name: 'slow but allowed', run: () => new Promise((r) => setTimeout(r, 80)).then(() => order.push('slow')), timeoutMs: 1_000 },
      { name: 'last', run: () => void order.push('last') },
    ],
    { log, stepTimeoutMs: 30 },
  );
  await close();
  t.deepEqual(order, ['slow', 'last']);
  t.deepEqual(warnings.map((w) => [w.step, w.msg]), [['hangs', 'close step timed out; going on without it']]);
  t.true(Date.now() - started < 1_000);
});

test('the steps may be given late, as a function read at the first close', async (t) => {
  const { log } = recorder();
  const order: string[] = [];
  let steps = [{ name: 'early', run: () => void order.push('early') }];
  const close = closeInOrder(() => steps, { log });
  steps = [{ name: 'late', run: () => void order.push('late') }];
  await close();
  t.deepEqual(order, ['late']);
});

test('quitStep drops a connection that cannot send QUIT', async (t) => {
  const { log, warnings } = recorder();
  let dropped = false;
  await closeInOrder([quitStep('redis', { quit: () => Promise.reject(new Error('down')), disconnect: () => void (dropped = true) })], { log })();
  t.true(dropped);
  t.deepEqual(warnings, []);
});
