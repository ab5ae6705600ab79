/**
 * Finds citations in comments and documents that lead nowhere: a repository
 * file that does not exist, a `#anchor` that is not a heading of the cited
 * Markdown file (GitHub's slug rules), or a document outside the repository
 * (the reference notes the docs were written from, or anything under a
 * `shared/` folder beside the repository). Pure over a `RepoView`, so the
 * checker itself is tested on made-up files as well as run on the real tree.
 */
import { posix } from 'node:path';

export interface RepoView {
  /** Repository-relative paths of the files to scan. */
  files: readonly string[];
  read(path: string): string;
  /** A file or a directory. */
  exists(path: string): boolean;
}

export interface Problem {
  file: string;
  line: number;
  cited: string;
  reason: string;
}

/** Extensions of the files scanned, and of the paths recognised as citations. */
export const scannedFile = /\.(ts|js|mjs|cjs|md|json|sh|conf|ya?ml)$/;
const citedExt = 'ts|js|mjs|cjs|md|json|sh|conf|ya?ml|txt|png|pem|service|lua|html';

export function isScanned(path: string): boolean {
  return scannedFile.test(path) && !/(^|\/)(node_modules|dist)\//.test(path) && posix.basename(path) !== 'package-lock.json';
}

/** GitHub's heading anchor: inline markup dropped, lower case, punctuation removed, spaces to hyphens. */
export function slugify(heading: string): string {
  return heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Lines of a Markdown text with fenced code blocks blanked (line numbers kept). */
function withoutFences(md: string): string[] {
  let fence: string | null = null;
  return md.split('\n').map((line) => {
    const f = line.match(/^\s*(`{3,}|~{3,})/);
    if (f) {
      if (fence === null) fence = f[1]!;
      else if (line.trim().startsWith(fence)) fence = null;
      return '';
    }
    return fence === null ? line : '';
  });
}

/** The anchors a Markdown file offers: one per heading (repeats get -1, -2, …) and explicit `<a id|name>`. */
export function headingAnchors(md: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(md)) {
    const h = line.match(/^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/);
    if (h) {
      const base = slugify(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1]!);
  }
  return anchors;
}

const blank = (s: string) => s.replace(/[^\n]/g, ' ');

/** TS/JS source with everything but comments blanked, offsets and lines kept. */
export function jsComments(src: string): string {
  let out = '';
  let i = 0;
  let lastSignificant = '';
  let lastWord = '';
  const regexCanStart = () =>
    lastSignificant === '' || '(,=:[!&|?{};~^+-*%<>'.includes(lastSignificant) || (lastSignificant === 'a' && /^(return|typeof|case|in|of|void|yield|await)$/.test(lastWord));
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += src.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (c !== '`' && src[j] === '\n') break;
        j++;
      }
      out += blank(src.slice(i, j + 1));
      i = j + 1;
      lastSignificant = c;
      continue;
    }
    if (/[\w$]/.test(c)) {
      let j = i;
      while (j < src.length && /[\w$]/.test(src[j]!)) j++;
      lastWord = src.slice(i, j);
      lastSignificant = 'a';
      out += blank(lastWord);
      i = j;
      continue;
    }
    if (c === '/' && regexCanStart()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n') {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        else if (src[j] === '/' && !inClass) break;
        j++;
      }
      out += blank(src.slice(i, j + 1));
      i = j + 1;
      lastSignificant = '/';
      continue;
    }
    out += c === '\n' ? '\n' : ' ';
    if (!/\s/.test(c)) lastSignificant = c;
    i++;
  }
  return out;
}

/** Shell, Redis and YAML files: only `#` comments (not the `#!` line). */
export function hashComments(src: string): string {
  return src
    .split('\n')
    .map((line, n) => {
      const m = line.match(/(^|\s)#(.*)$/);
      if (!m || (n === 0 && line.startsWith('#!'))) return blank(line);
      const at = m.index! + m[1]!.length;
      return blank(line.slice(0, at)) + line.slice(at);
    })
    .join('\n');
}

/** The part of a file where citations are read: comments of code, a document without its code examples. */
export function citationText(path: string, src: string): string {
  if (/\.(ts|js|mjs|cjs)$/.test(path)) return jsComments(src);
  if (/\.(sh|conf|ya?ml)$/.test(path)) return hashComments(src);
  if (path.endsWith('.md')) return withoutFences(src).join('\n');
  return src;
}

const referenceNote = /\b(?:PROTOCOL|ARCHITECTURE|PITFALLS|STYLE)\.md\b|\b(?:PROTOCOL|PITFALLS) §\d/g;
const outsideShared = /(?:\.\.\/)+shared\/|\/work\/shared\b/g;
const pathCitation = new RegExp(
  String.raw`(?<![\w./@:~$*{}%+\\-])((?:\.\.?\/)*(?:[\w.-]+\/)*[\w-][\w.-]*\.(?:${citedExt}))(#[\p{L}\p{N}_-]+)?(?![\w/])`,
  'gu',
);
const markdownLink = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)/gm;

function lineAt(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

export function findProblems(repo: RepoView): Problem[] {
  const problems: Problem[] = [];
  const topLevel = new Set(repo.files.filter((f) => f.includes('/')).map((f) => f.split('/')[0]!));
  const anchorCache = new Map<string, Set<string>>();
  const anchorsOf = (path: string) => {
    let a = anchorCache.get(path);
    if (!a) anchorCache.set(path, (a = headingAnchors(repo.read(path))));
    return a;
  };

  /** Checks one cited path (already resolved against the repository root) and its anchor. */
  const check = (file: string, line: number, cited: string, target: string, anchor: string | undefined) => {
    const report = (reason: string) => problems.push({ file, line, cited, reason });
    if (target.startsWith('..')) return report('points outside the repository');
    const exists = repo.exists(target) || (/\.js$/.test(target) && repo.exists(target.replace(/\.js$/, '.ts')));
    if (!exists) return report(`${target} does not exist`);
    if (anchor && /\.md$/.test(target) && !anchorsOf(target).has(anchor)) report(`no heading with anchor #${anchor} in ${target}`);
  };

  for (const file of repo.files) {
    if (!isScanned(file)) continue;
    const src = repo.read(file);
    const text = citationText(file, src);
    const dir = posix.dirname(file);

    // The reference notes: anywhere, strings and code examples included. A folder beside the
    // repository: in comments and documents (code imports the repository's own shared/).
    for (const m of src.matchAll(referenceNote)) problems.push({ file, line: lineAt(src, m.index), cited: m[0], reason: 'cites a reference note outside the repository' });
    const prose = file.endsWith('.md') ? src : text;
    for (const m of prose.matchAll(outsideShared)) problems.push({ file, line: lineAt(prose, m.index), cited: m[0], reason: 'cites a folder outside the repository' });

    // Plain path citations: a repository path with an optional anchor, or a path relative to the file.
    for (const m of text.matchAll(pathCitation)) {
      const cited = m[1]!;
      const relative = cited.startsWith('./') || cited.startsWith('../');
      if (!relative && !(cited.includes('/') && topLevel.has(cited.split('/')[0]!))) continue;
      const target = relative ? posix.normalize(posix.join(dir, cited)) : posix.normalize(cited);
      check(file, lineAt(text, m.index), m[0], target, m[2]?.slice(1));
    }

    // Markdown links: relative targets, folders and same-file anchors.
    if (file.endsWith('.md')) {
      const prose = withoutFences(src)
        .map((l) => l.replace(/`[^`]*`/g, (s) => blank(s)))
        .join('\n');
      for (const m of prose.matchAll(markdownLink)) {
        const raw = (m[1] ?? m[2])!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith('/')) continue;
        const [pathPart, anchor] = raw.split('#', 2) as [string, string | undefined];
        const line = lineAt(prose, m.index);
        if (pathPart === '') {
          if (anchor && !anchorsOf(file).has(anchor)) problems.push({ file, line, cited: raw, reason: `no heading with anchor #${anchor} in ${file}` });
          continue;
        }
        const target = posix.normalize(posix.join(dir, decodeURI(pathPart))).replace(/\/$/, '');
        check(file, line, raw, target, anchor);
      }
    }
  }
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.cited}:${p.reason}`;
    return !seen.has(key) && seen.add(key);
  });
}
