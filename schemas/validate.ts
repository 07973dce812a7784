/**
 * Checks a value against an Avro schema and says, per field, what is wrong. avsc's own isValid
 * answers yes/no (its errorHook gives a path but knows nothing of logical types, missing fields
 * or undeclared ones); the gateway returns these problems as a 400, so they are precise:
 * `products[1].quantity: expected int, got "3" (string)`.
 *
 * Beyond plain Avro it checks logical types (`uuid` strings, `timestamp-millis` safe integers)
 * and refuses fields the record does not declare (Avro would drop them silently, hiding typos).
 */
import { isTopicName, TOPICS, schemaText, type RecordName, type TopicName } from './topics.ts';
import type { ValidationProblem } from './errors.ts';

export type { ValidationProblem } from './errors.ts';

/** A compiled schema: validates values against it. */
export interface Validator {
  /** Full name of the top-level type (or its type name if unnamed). */
  readonly name: string;
  validate(value: unknown): ValidationProblem[];
}

/** Problems of a value for a topic of the contract map (empty: valid). */
export function validate(topic: TopicName | string, value: unknown): ValidationProblem[] {
  if (!isTopicName(topic)) throw new Error(`unknown topic ${topic}: not in schemas/topics.ts`);
  return recordValidator(TOPICS[topic].record).validate(value);
}

const byRecord = new Map<RecordName, Validator>();

export function recordValidator(record: RecordName): Validator {
  let v = byRecord.get(record);
  if (v === undefined) {
    v = compileValidator(JSON.parse(schemaText(record)) as unknown);
    byRecord.set(record, v);
  }
  return v;
}

/** Compiles an Avro schema (parsed JSON or its text). */
export function compileValidator(schema: unknown): Validator {
  const parsed: unknown = typeof schema === 'string' ? JSON.parse(schema) : schema;
  const root = compile(parsed, '', new Map());
  return {
    name: root.kind === 'record' || root.kind === 'enum' || root.kind === 'fixed' ? root.name : describe(root),
    validate(value) {
      const problems: ValidationProblem[] = [];
      check(root, value, '', problems);
      return problems;
    },
  };
}

// ---- implementation ----

type Primitive = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';

type Node =
  | { kind: Primitive; logical?: string }
  | { kind: 'record'; name: string; fields: { name: string; node: Node; hasDefault: boolean }[] }
  | { kind: 'enum'; name: string; symbols: string[] }
  | { kind: 'fixed'; name: string; size: number }
  | { kind: 'array'; items: Node }
  | { kind: 'map'; values: Node }
  | { kind: 'union'; branches: Node[] };

const PRIMITIVES = new Set<string>(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function compile(schema: unknown, namespace: string, named: Map<string, Node>): Node {
  if (typeof schema === 'string') {
    if (PRIMITIVES.has(schema)) return { kind: schema as Primitive };
    const ref = named.get(fullName(schema, namespace)) ?? named.get(schema);
    if (ref === undefined) throw new Error(`unknown type ${schema}`);
    return ref;
  }
  if (Array.isArray(schema)) return { kind: 'union', branches: schema.map((s) => compile(s, namespace, named)) };
  if (typeof schema !== 'object' || schema === null) throw new Error(`not an Avro schema: ${JSON.stringify(schema)}`);
  const s = schema as Record<string, unknown>;
  const type = s.type;
  const ns = typeof s.namespace === 'string' ? s.namespace : namespace;
  switch (type) {
    case 'record':
    case 'error': {
      const name = fullName(String(s.name), ns);
      const node: Node = { kind: 'record', name, fields: [] };
      // Registered before its fields so that a recursive reference finds it.
      named.set(name, node);
      const childNs = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : ns;
      for (const f of (s.fields ?? []) as Record<string, unknown>[]) {
        node.fields.push({ name: String(f.name), node: compile(f.type, childNs, named), hasDefault: 'default' in f });
      }
      return node;
    }
    case 'enum': {
      const node: Node = { kind: 'enum', name: fullName(String(s.name), ns), symbols: (s.symbols ?? []) as string[] };
      named.set(node.name, node);
      return node;
    }
    case 'fixed': {
      const node: Node = { kind: 'fixed', name: fullName(String(s.name), ns), size: Number(s.size) };
      named.set(node.name, node);
      return node;
    }
    case 'array':
      return { kind: 'array', items: compile(s.items, ns, named) };
    case 'map':
      return { kind: 'map', values: compile(s.values, ns, named) };
    default: {
      if (typeof type === 'string' && PRIMITIVES.has(type)) {
        return typeof s.logicalType === 'string' ? { kind: type as Primitive, logical: s.logicalType } : { kind: type as Primitive };
      }
      // `{"type": {...}}` or `{"type": "SomeNamedType"}`.
      return compile(type, ns, named);
    }
  }
}

function describe(node: Node): string {
  switch (node.kind) {
    case 'record': return `record ${shortName(node.name)}`;
    case 'enum': return `one of ${node.symbols.join('|')}`;
    case 'fixed': return `${node.size} bytes (fixed ${shortName(node.name)})`;
    case 'array': return `array of ${describe(node.items)}`;
    case 'map': return `map of ${describe(node.values)}`;
    case 'union': return node.branches.map(describe).join(' or ');
    default: return node.logical === 'uuid' ? 'uuid' : node.logical === 'timestamp-millis' ? 'timestamp-millis (long)' : node.kind;
  }
}

function shortName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function show(value: unknown, note?: string): string {
  if (value === undefined) return 'undefined (missing)';
  if (value === null) return 'null';
  let kind: string = typeof value;
  let text: string;
  if (Buffer.isBuffer(value)) {
    kind = 'bytes';
    text = `<${value.length} bytes>`;
  } else if (Array.isArray(value)) {
    kind = 'array';
    text = `[${value.length} items]`;
  } else if (value instanceof Date) {
    kind = 'Date';
    text = Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  } else if (typeof value === 'object') {
    text = '{…}';
  } else if (typeof value === 'bigint' || typeof value === 'symbol' || typeof value === 'function') {
    text = String(value);
  } else {
    text = JSON.stringify(value) ?? String(value);
    if (text.length > 60) text = `${text.slice(0, 57)}…${text.endsWith('"') ? '"' : ''}`;
  }
  return `${text} (${note === undefined ? kind : `${kind}, ${note}`})`;
}

function problem(problems: ValidationProblem[], path: string, expected: string, got: string): void {
  problems.push({ path, expected, got, message: `${path === '' ? '(value)' : path}: expected ${expected}, got ${got}` });
}

function join(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

function check(node: Node, value: unknown, path: string, problems: ValidationProblem[]): void {
  switch (node.kind) {
    case 'null':
      if (value !== null) problem(problems, path, 'null', show(value));
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problem(problems, path, 'boolean', show(value));
      return;
    case 'int':
      if (typeof value !== 'number') problem(problems, path, describe(node), show(value));
      else if (!Number.isInteger(value)) problem(problems, path, describe(node), show(value, 'not an integer'));
      else if (value < INT_MIN || value > INT_MAX) problem(problems, path, describe(node), show(value, 'out of int range'));
      return;
    case 'long':
      if (typeof value !== 'number') problem(problems, path, describe(node), show(value));
      else if (!Number.isSafeInteger(value)) problem(problems, path, describe(node), show(value, 'not a safe integer'));
      return;
    case 'float':
    case 'double':
      if (typeof value !== 'number') problem(problems, path, node.kind, show(value));
      return;
    case 'bytes':
      if (!Buffer.isBuffer(value)) problem(problems, path, 'bytes (Buffer)', show(value));
      return;
    case 'string':
      if (typeof value !== 'string') problem(problems, path, describe(node), show(value));
      else if (node.logical === 'uuid' && !UUID.test(value)) problem(problems, path, 'uuid', show(value, 'not a uuid'));
      return;
    case 'fixed':
      if (!Buffer.isBuffer(value) || value.length !== node.size) problem(problems, path, describe(node), show(value));
      return;
    case 'enum':
      if (typeof value !== 'string' || !node.symbols.includes(value)) problem(problems, path, describe(node), show(value));
      return;
    case 'array':
      if (!Array.isArray(value)) problem(problems, path, describe(node), show(value));
      else value.forEach((item, i) => check(node.items, item, `${path}[${i}]`, problems));
      return;
    case 'map':
      if (!isPlainObject(value)) problem(problems, path, describe(node), show(value));
      else for (const [k, v] of Object.entries(value)) check(node.values, v, `${path}[${JSON.stringify(k)}]`, problems);
      return;
    case 'record': {
      if (!isPlainObject(value)) {
        problem(problems, path, describe(node), show(value));
        return;
      }
      const declared = new Set<string>();
      for (const field of node.fields) {
        declared.add(field.name);
        const v = value[field.name];
        if (v === undefined && field.hasDefault) continue;
        check(field.node, v, join(path, field.name), problems);
      }
      for (const key of Object.keys(value)) {
        if (!declared.has(key) && value[key] !== undefined) {
          const fieldPath = join(path, key);
          const fields = `${shortName(node.name)} has ${[...declared].join(', ')}`;
          const got = show(value[key]);
          problems.push({ path: fieldPath, expected: `no such field (${fields})`, got, message: `${fieldPath}: unexpected field (${fields}), got ${got}` });
        }
      }
      return;
    }
    case 'union': {
      const nonNull = node.branches.filter((b) => b.kind !== 'null');
      // The common optional field ["null", T]: report T's own problems, with their paths.
      if (value !== null && value !== undefined && nonNull.length === 1 && nonNull[0] !== undefined) {
        check(nonNull[0], value, path, problems);
        return;
      }
      for (const branch of node.branches) {
        const sub: ValidationProblem[] = [];
        check(branch, value, path, sub);
        if (sub.length === 0) return;
      }
      problem(problems, path, describe(node), show(value));
      return;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}
