/**
 * Generates the TypeScript types of the contracts from the .avsc files, so that the types are
 * never a second, hand-written copy: `npm run schemas:types` writes schemas/generated/, and
 * `npm run schemas:types -- --check` (and a test) fail when what is committed is stale.
 *
 * One module per schema file (named after its record) plus index.ts with `Records`, the map from
 * record name to type that topics.ts builds its topic → type map on.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toTypeScript } from '@ovotech/avro-ts';
import type { Schema } from 'avsc';

export const SCHEMA_DIR = fileURLToPath(new URL('.', import.meta.url));
export const GENERATED_DIR = join(SCHEMA_DIR, 'generated');

/** File name (in generated/) → contents. */
export type GeneratedFiles = Map<string, string>;

export interface Staleness {
  readonly missing: string[];
  readonly changed: string[];
  readonly extra: string[];
}

export function schemaFiles(dir: string = SCHEMA_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.avsc')).sort();
}

export function generateTypes(dir: string = SCHEMA_DIR): GeneratedFiles {
  const out: GeneratedFiles = new Map();
  const names: string[] = [];
  /** Short name of every named type inside the records → [full name, module, TS namespace]. */
  const nested = new Map<string, [string, string, string]>();
  /** Enum short name → its symbols, for runtime lists. */
  const enums = new Map<string, string[]>();
  for (const file of schemaFiles(dir)) {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Schema & { name?: string };
    const name = schema.name;
    if (typeof name !== 'string' || `${name}.avsc` !== file) {
      throw new Error(`schemas/${file}: a contract file must hold one named record and be called <record name>.avsc`);
    }
    names.push(name);
    for (const [short, full, symbols] of namedTypes(schema)) {
      if (short === name) continue;
      if (symbols !== undefined) enums.set(short, symbols);
      const seen = nested.get(short);
      if (seen !== undefined && seen[0] !== full) {
        throw new Error(`schemas/${file}: type name ${short} is ${full} here and ${seen[0]} in ${seen[1]}.avsc; short names must be unique`);
      }
      if (seen === undefined) nested.set(short, [full, name, tsNamespace(full)]);
    }
    const ts = quietly(() => toTypeScript(schema, { defaultsAsOptional: true }));
    out.set(`${name}.ts`, `${header(file)}${ts.trimEnd()}\n`);
  }
  const index = [
    header('every .avsc file'),
    ...names.map((n) => `import type { ${n} } from './${n}.ts';`),
    '',
    ...names.map((n) => `export type { ${n} } from './${n}.ts';`),
    '',
    ...[...nested.keys()].sort().flatMap((short) => {
      const [full, module, ns] = nested.get(short) ?? ['', '', ''];
      return [`/** ${full} */`, `export type ${short} = import('./${module}.ts').${ns}.${short};`];
    }),
    '',
    ...[...enums.keys()].sort().flatMap((short) => [
      `/** The symbols of ${nested.get(short)?.[0] ?? short}, in schema order. */`,
      `export const ${short}Symbols: readonly ${short}[] = ${JSON.stringify(enums.get(short))};`,
    ]),
    '',
    '/** Record name → the type of its values. */',
    'export interface Records {',
    ...names.map((n) => `  ${n}: ${n};`),
    '}',
    '',
  ].join('\n');
  out.set('index.ts', index);
  return out;
}

/** Compares generated output with what is on disk. */
export function staleness(generated: GeneratedFiles, dir: string = GENERATED_DIR): Staleness {
  const onDisk = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts')) : [];
  const missing: string[] = [];
  const changed: string[] = [];
  for (const [file, text] of generated) {
    if (!onDisk.includes(file)) missing.push(file);
    else if (readFileSync(join(dir, file), 'utf8') !== text) changed.push(file);
  }
  const extra = onDisk.filter((f) => !generated.has(f));
  return { missing, changed, extra };
}

export function writeGenerated(generated: GeneratedFiles, dir: string = GENERATED_DIR): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of generated) writeFileSync(join(dir, file), text);
}

/** Every named type (record, enum, fixed) declared in a schema: [short name, full name, enum symbols]. */
function namedTypes(schema: unknown, namespace = ''): [string, string, string[] | undefined][] {
  if (Array.isArray(schema)) return schema.flatMap((s) => namedTypes(s, namespace));
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as { type?: unknown; name?: unknown; namespace?: unknown; fields?: unknown; items?: unknown; values?: unknown; symbols?: unknown };
  const ns = typeof s.namespace === 'string' ? s.namespace : namespace;
  const own: [string, string, string[] | undefined][] =
    typeof s.name === 'string' && (s.type === 'record' || s.type === 'enum' || s.type === 'fixed')
      ? [[s.name, `${ns}.${s.name}`, s.type === 'enum' ? (s.symbols as string[]) : undefined]]
      : [];
  const fields = Array.isArray(s.fields) ? s.fields.map((f: { type?: unknown }) => f.type) : [];
  return [...own, ...[...fields, s.items, s.values, typeof s.type === 'object' ? s.type : undefined].flatMap((t) => namedTypes(t, ns))];
}

/** avro-ts's namespace for a full name: com.orderstream.order.X → ComOrderstreamOrder. */
function tsNamespace(fullName: string): string {
  return fullName.split('.').slice(0, -1).map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}

function header(source: string): string {
  return `// Generated by \`npm run schemas:types\` from ${source}. Do not edit: change the .avsc and regenerate.\n`;
}

/** avro-ts drives TypeScript 4's factory API, which prints deprecation notices on every call. */
function quietly<T>(fn: () => T): T {
  const { warn, log } = console;
  console.warn = () => undefined;
  console.log = () => undefined;
  try {
    return fn();
  } finally {
    console.warn = warn;
    console.log = log;
  }
}

function main(argv: string[]): number {
  const generated = generateTypes();
  if (argv.includes('--check')) {
    const s = staleness(generated);
    const problems = [
      ...s.missing.map((f) => `missing ${f}`),
      ...s.changed.map((f) => `out of date ${f}`),
      ...s.extra.map((f) => `not generated from any .avsc: ${f}`),
    ];
    if (problems.length > 0) {
      process.stderr.write(`schemas/generated is stale (run npm run schemas:types):\n  ${problems.join('\n  ')}\n`);
      return 1;
    }
    process.stdout.write(`schemas/generated is up to date (${generated.size} files)\n`);
    return 0;
  }
  writeGenerated(generated);
  process.stdout.write(`wrote ${generated.size} files to schemas/generated/\n`);
  return 0;
}

if (process.argv[1] !== undefined && basename(process.argv[1]) === 'codegen.ts') {
  process.exitCode = main(process.argv.slice(2));
}
