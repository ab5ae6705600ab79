/**
 * The import graph of the source tree, by file and by folder, for the
 * boundary test: which folder imports which, and the loops between folders.
 * Reads `.ts` sources (type-only imports count: they couple folders too).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';

/** Top-level folders that hold the product and its tools (tests excluded). */
export const SOURCE_ROOTS = ['shared', 'queue', 'workers', 'supervisor', 'dashboard', 'cloud-sim', 'cli', 'tools', 'bench', 'chaos'];

export interface Edge {
  from: string;
  to: string;
}

function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = posix.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(root, path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Repository-relative file → repository-relative files it imports. */
export function fileImports(root: string, roots: readonly string[] = SOURCE_ROOTS): Edge[] {
  return roots.flatMap((top) =>
    sourceFiles(root, top).flatMap((file) =>
      [...readFileSync(join(root, file), 'utf8').matchAll(specifier)].map((m) => ({
        from: file,
        to: relative(root, join(root, dirname(file), m[1]!.replace(/\.js$/, '.ts'))).split('\\').join('/'),
      })),
    ),
  );
}

/** The folder a file counts in: its directory, or the first `depth` segments of it. */
export function folderOf(file: string, depth = Infinity): string {
  return posix.dirname(file).split('/').slice(0, depth).join('/');
}

/** Distinct folder-to-folder edges (a folder importing itself is left out). */
export function folderEdges(edges: readonly Edge[], folder: (file: string) => string): Edge[] {
  const seen = new Map<string, Edge>();
  for (const e of edges) {
    const from = folder(e.from);
    const to = folder(e.to);
    if (from !== to) seen.set(`${from}\0${to}`, { from, to });
  }
  return [...seen.values()];
}

/** Strongly connected groups of more than one node: each is a loop (Tarjan). */
export function loops(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) found.push(group.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}
