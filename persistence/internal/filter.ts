/**
 * Filters, ordering and cursors evaluated in process, with MongoDB's semantics, so that the
 * embedded store answers as MongoDB does (and the index key encoding in `keys.ts` agrees with
 * the order defined here). The MongoDB implementation only uses `checkFilter`.
 */
import { PersistenceError } from '../errors.ts';
import type { FindOptions, Scalar } from '../types.ts';

/** What a filter is at run time: field → a value (equality) or an object of operators. */
export type LooseFilter = Readonly<Record<string, unknown>>;
export type LooseDoc = Readonly<Record<string, unknown>>;

const OPERATORS = new Set(['$in', '$ne', '$lt', '$lte', '$gt', '$gte', '$exists']);

/**
 * Refuses what the interface does not promise, so both implementations fail alike instead of
 * MongoDB silently accepting a dotted path or an operator the embedded store does not know.
 */
export function checkFilter(filter: LooseFilter, collection?: string): void {
  for (const [field, cond] of Object.entries(filter)) {
    checkFieldName(field, collection);
    if (!isOperatorObject(cond)) continue;
    for (const [op, arg] of Object.entries(cond)) {
      if (!OPERATORS.has(op)) throw new PersistenceError(`unsupported filter operator ${op} on ${field}`, { collection });
      if (op === '$in' && !Array.isArray(arg)) throw new PersistenceError(`$in on ${field} needs an array`, { collection });
      if (op === '$exists' && typeof arg !== 'boolean') throw new PersistenceError(`$exists on ${field} needs a boolean`, { collection });
    }
  }
}

export function checkFieldName(field: string, collection?: string): void {
  if (field === '' || field.startsWith('$') || field.includes('.')) {
    throw new PersistenceError(`field names are top-level, without "." or a leading "$": ${JSON.stringify(field)}`, { collection });
  }
}

/** An object whose keys all start with `$` is a set of operators; any other value is compared for equality. */
export function isOperatorObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

export function matches(doc: LooseDoc, filter: LooseFilter): boolean {
  for (const [field, cond] of Object.entries(filter)) {
    if (cond === undefined) continue;
    if (!matchField(doc[field], cond)) return false;
  }
  return true;
}

function matchField(value: unknown, cond: unknown): boolean {
  if (!isOperatorObject(cond)) return equals(value, cond);
  // Each operator holds on its own: on an array, different elements may satisfy different ones.
  for (const [op, arg] of Object.entries(cond)) {
    switch (op) {
      case '$in': if (!(arg as unknown[]).some((c) => equals(value, c))) return false; break;
      case '$ne': if (equals(value, arg)) return false; break;
      case '$exists': if ((value !== undefined) !== arg) return false; break;
      case '$lt': if (!compares(value, arg, (c) => c < 0)) return false; break;
      case '$lte': if (!compares(value, arg, (c) => c <= 0)) return false; break;
      case '$gt': if (!compares(value, arg, (c) => c > 0)) return false; break;
      case '$gte': if (!compares(value, arg, (c) => c >= 0)) return false; break;
      default: throw new PersistenceError(`unsupported filter operator ${op}`);
    }
  }
  return true;
}

/** MongoDB equality: null matches a missing field; an array matches as a whole or by any element. */
function equals(value: unknown, cond: unknown): boolean {
  if (cond === null && value === undefined) return true;
  if (Array.isArray(value)) return deepEqual(value, cond) || value.some((e) => deepEqual(e, cond));
  return deepEqual(value, cond);
}

/** Range operators only compare values of one type bracket (a number is never "less than" a string). */
function compares(value: unknown, cond: unknown, ok: (c: number) => boolean): boolean {
  const candidates = Array.isArray(value) ? value : [value === undefined ? null : value];
  return candidates.some((e) => rank(e) === rank(cond) && ok(compareValues(e, cond)));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  // Embedded documents compare field by field in order, as BSON does.
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && deepEqual((a as LooseDoc)[k], (b as LooseDoc)[k]));
}

/**
 * MongoDB's order of types: null (and missing) < numbers < strings < objects < arrays < booleans.
 * `keys.ts` writes the same ranks into index keys.
 */
export function rank(value: unknown): number {
  if (value === null || value === undefined) return 1;
  if (typeof value === 'number') return 2;
  if (typeof value === 'string') return 3;
  if (Array.isArray(value)) return 5;
  if (typeof value === 'object') return 4;
  if (typeof value === 'boolean') return 8;
  return 9;
}

export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 1: return 0;
    case 2: return normalizeNumber(a as number) - normalizeNumber(b as number) || 0;
    case 3: return compareStrings(a as string, b as string);
    case 8: return Number(a) - Number(b);
    // Objects and arrays: by their JSON, a stable if not MongoDB-exact order (sorting by them is not promised).
    default: return compareStrings(JSON.stringify(a), JSON.stringify(b));
  }
}

/** NaN sorts before every number, as in MongoDB. */
function normalizeNumber(n: number): number {
  return Number.isNaN(n) ? -Infinity : n;
}

/** By code point, which is UTF-8 byte order: MongoDB's (simple collation) and the index keys' order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (code points above U+FFFF) sort after every BMP unit in UTF-8.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}

export type Sort = NonNullable<FindOptions['sort']>;
export const ID_SORT: Sort = { field: '_id', direction: 'asc' };

/** The value a document sorts by: an array sorts by its least element ascending, its greatest descending. */
export function sortValue(doc: LooseDoc, sort: Sort): unknown {
  const v = doc[sort.field];
  if (!Array.isArray(v)) return v === undefined ? null : v;
  if (v.length === 0) return null;
  const sign = sort.direction === 'asc' ? 1 : -1;
  return v.reduce((best: unknown, e: unknown) => (sign * compareValues(e, best) < 0 ? e : best));
}

/** Orders documents by the sort, ties broken by `_id` in the same direction. */
export function compareDocs(a: LooseDoc, b: LooseDoc, sort: Sort): number {
  const sign = sort.direction === 'asc' ? 1 : -1;
  const c = compareValues(sortValue(a, sort), sortValue(b, sort));
  return sign * (c !== 0 ? c : compareStrings(String(a._id), String(b._id)));
}

/** Whether `doc` comes strictly after the cursor position in the sort. */
export function isAfter(doc: LooseDoc, sort: Sort, after: { readonly value: Scalar; readonly id: string }): boolean {
  return compareDocs(doc, { [sort.field]: after.value ?? null, _id: after.id }, sort) > 0;
}

export function checkLimit(limit: number | undefined, collection: string): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new PersistenceError(`limit must be a non-negative integer, not ${limit}`, { collection });
  }
}

/** Drops `undefined` fields (deeply), as the MongoDB driver does with `ignoreUndefined`: both stores keep the same shape. */
export function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((e) => (e === undefined ? null : withoutUndefined(e))) as T;
  if (typeof value !== 'object' || value === null || !isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
  return out as T;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
