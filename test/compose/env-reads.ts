/**
 * Which environment variables a process can read: a static scan of its entry file and every
 * module it imports through relative specifiers (the project's own sources; packages are not
 * followed). Small on purpose, and tied to how this repository reads its environment:
 *
 *   env.NAME  env?.NAME  process.env.NAME  env['NAME']  someHelper(env, 'NAME', …)
 *
 * Comments are dropped first, so a variable a comment names but no code reads does not count.
 * `import type` is not followed: it loads no code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

export interface EnvReads {
  /** The modules scanned, relative to the root, the entry first. */
  readonly files: readonly string[];
  /** Each variable read, with the files that read it (relative). */
  readonly names: ReadonlyMap<string, readonly string[]>;
}

/** Scans `entry` (relative to `root`) and its relative imports. A missing import is an error. */
export function envReadsOf(root: string, entry: string): EnvReads {
  const names = new Map<string, string[]>();
  const files = moduleClosure(root, entry);
  for (const file of files) {
    for (const name of envNamesIn(codeOf(resolve(root, file)))) {
      const readers = names.get(name) ?? [];
      readers.push(file);
      names.set(name, readers);
    }
  }
  return { files, names };
}

/** The variable names read in one module's source (comments already removed or not). */
export function envNamesIn(source: string): Set<string> {
  const code = withoutComments(source);
  const found = new Set<string>();
  for (const pattern of ENV_PATTERNS) {
    for (const m of code.matchAll(pattern)) found.add(m[1]!);
  }
  return found;
}

const NAME = '([A-Z][A-Z0-9_]*)';
const ENV_PATTERNS: readonly RegExp[] = [
  new RegExp(`\\benv\\??\\.${NAME}\\b`, 'g'),
  new RegExp(`\\benv\\[\\s*['"]${NAME}['"]\\s*\\]`, 'g'),
  new RegExp(`\\(\\s*env\\s*,\\s*['"]${NAME}['"]`, 'g'),
];

function moduleClosure(root: string, entry: string): string[] {
  const seen = new Set<string>();
  const order: string[] = [];
  const visit = (abs: string, from: string | undefined) => {
    if (seen.has(abs)) return;
    if (!existsSync(abs)) throw new Error(`${relative(root, abs)} not found${from ? ` (imported by ${from})` : ''}`);
    seen.add(abs);
    const rel = relative(root, abs);
    order.push(rel);
    for (const spec of relativeImports(codeOf(abs))) visit(resolve(dirname(abs), spec), rel);
  };
  visit(resolve(root, entry), undefined);
  return order;
}

/** Relative specifiers of value imports, re-exports, side-effect and dynamic imports. */
function relativeImports(source: string): string[] {
  const code = withoutComments(source);
  const specs: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s+(type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g)) {
    if (m[1] === undefined) specs.push(m[2]!);
  }
  for (const m of code.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('./') || s.startsWith('../'));
}

const sources = new Map<string, string>();
function codeOf(abs: string): string {
  let s = sources.get(abs);
  if (s === undefined) {
    s = readFileSync(abs, 'utf8');
    sources.set(abs, s);
  }
  return s;
}

/** Block comments, and line comments that start a line or follow white space (not `http://`). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|\s)\/\/.*$/gm, '$1');
}
