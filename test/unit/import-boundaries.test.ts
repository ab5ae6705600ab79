/**
 * The boundaries of docs/architecture.md#code-boundaries hold in the source:
 * processes never import each other, `shared/` and `queue/` import no
 * process and `shared/` does not import `queue/`, tools reach the board-link
 * and ccTalk wire code through `shared/`, and the folders inside the business
 * process form no loop. The checker is also run on a made-up graph, so a
 * check that finds nothing is known to be able to find something.
 */
import test from 'ava';
import { fileImports, folderEdges, loops, type Edge } from '../helpers/import-graph.js';
import { ROOT } from '../helpers/pm2.js';

const PROCESSES = ['workers/hardware', 'workers/business', 'workers/mqtt', 'supervisor', 'dashboard', 'cloud-sim'];

const edges = fileImports(ROOT);
const processOf = (file: string): string | undefined => PROCESSES.find((p) => file.startsWith(`${p}/`));
const show = (list: readonly Edge[]): string[] => list.map((e) => `${e.from} -> ${e.to}`);

/** The first folder below workers/business, or the file itself for the files at its top (deps, service, main). */
function businessPart(file: string): string {
  const rest = file.slice('workers/business/'.length).split('/');
  return rest.length > 1 ? rest[0]! : file;
}

test('the graph is read: every process imports shared/', (t) => {
  t.true(edges.length > 500);
  for (const p of PROCESSES) t.true(edges.some((e) => processOf(e.from) === p && e.to.startsWith('shared/')), p);
});

test('processes never import each other', (t) => {
  const crossing = edges.filter((e) => processOf(e.from) && processOf(e.to) && processOf(e.from) !== processOf(e.to));
  t.deepEqual(show(crossing), []);
});

test('shared/ and queue/ import no process, tool or test; shared/ does not import queue/', (t) => {
  const base = edges.filter((e) => /^(shared|queue)\//.test(e.from));
  t.deepEqual(show(base.filter((e) => !/^(shared|queue)\//.test(e.to))), []);
  t.deepEqual(show(base.filter((e) => e.from.startsWith('shared/') && e.to.startsWith('queue/'))), []);
});

test('tools/ reach no wire code inside a process (it lives in shared/)', (t) => {
  const wire = edges.filter((e) => e.from.startsWith('tools/') && /^workers\/hardware\//.test(e.to));
  t.deepEqual(show(wire), []);
});

test('the folders of the business process form no loop', (t) => {
  const inside = edges.filter((e) => e.from.startsWith('workers/business/') && e.to.startsWith('workers/business/'));
  t.deepEqual(loops(folderEdges(inside, businessPart)), []);
});

test('the loop finder finds folder loops and leaves a one-way graph alone', (t) => {
  const made = (pairs: string[][]): Edge[] => pairs.map(([from, to]) => ({ from: from!, to: to! }));
  const twoWay = made([
    ['workers/business/exchange/engine.ts', 'workers/business/machine/acceptors.ts'],
    ['workers/business/machine/machine.ts', 'workers/business/exchange/engine.ts'],
    ['workers/business/machine/machine.ts', 'workers/business/deps.ts'],
  ]);
  t.deepEqual(loops(folderEdges(twoWay, businessPart)), [['exchange', 'machine']]);
  t.deepEqual(loops(folderEdges(twoWay.slice(1), businessPart)), []);
  t.deepEqual(loops(made([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])), [['a', 'b', 'c']]);
});
