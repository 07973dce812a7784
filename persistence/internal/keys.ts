/**
 * Order-preserving binary keys for the embedded store's index databases: comparing two keys
 * byte by byte (LMDB's order) gives `compareValues` order component by component, so an index
 * range scan yields documents in the order a query sorts them.
 *
 * A component is its type rank (one byte, `rank()`), then: nothing for null; a number as its
 * IEEE 754 bytes with the sign flipped (all bits for negatives); a string as UTF-8 with 0x00
 * escaped as 00 FF and ended by 00 00; a boolean as one byte; objects and arrays as their JSON
 * string. No component starts with 0xFF, so `prefix + FF` bounds every key beginning with `prefix`.
 */
import { PersistenceError } from '../errors.ts';
import { rank, type LooseDoc } from './filter.ts';

/** LMDB's default maximum key size in lmdb-js. */
const MAX_KEY_BYTES = 1978;

export function encodeComponents(values: readonly unknown[]): Buffer {
  return Buffer.concat(values.map(encodeComponent));
}

export function encodeComponent(value: unknown): Buffer {
  const r = rank(value);
  switch (r) {
    case 1: return Buffer.of(r);
    case 2: {
      const b = Buffer.alloc(9);
      b[0] = r;
      const n = value as number;
      b.writeDoubleBE(Number.isNaN(n) ? -Infinity : n === 0 ? 0 : n, 1);
      if (b[1]! & 0x80) for (let i = 1; i < 9; i++) b[i] = ~b[i]! & 0xff;
      else b[1] = b[1]! | 0x80;
      return b;
    }
    case 3: return encodeString(r, value as string);
    case 8: return Buffer.of(r, value ? 1 : 0);
    default: return encodeString(r, JSON.stringify(value));
  }
}

function encodeString(r: number, s: string): Buffer {
  const utf8 = Buffer.from(s, 'utf8');
  const out: number[] = [r];
  for (const byte of utf8) {
    out.push(byte);
    if (byte === 0) out.push(0xff);
  }
  out.push(0, 0);
  return Buffer.from(out);
}

/** The smallest key after every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.of(0xff)]);
}

/**
 * The index entries of a document: one tuple per element when a field holds an array (as a
 * MongoDB multikey index), a missing field indexed as null. Two array fields in one compound
 * key are refused, as MongoDB refuses "parallel arrays".
 */
export function indexTuples(doc: LooseDoc, fields: readonly string[], collection: string): unknown[][] {
  let tuples: unknown[][] = [[]];
  let arrays = 0;
  for (const field of fields) {
    const v = doc[field];
    let values: unknown[];
    if (Array.isArray(v)) {
      if (v.length > 1 && ++arrays > 1) {
        throw new PersistenceError(`cannot index parallel arrays (${fields.join(', ')})`, { collection });
      }
      values = v.length === 0 ? [null] : dedupe(v);
    } else {
      values = [v === undefined ? null : v];
    }
    tuples = tuples.flatMap((t) => values.map((x) => [...t, x]));
  }
  return tuples;
}

function dedupe(values: readonly unknown[]): unknown[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = encodeComponent(v).toString('latin1');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function checkKeySize(key: Buffer, what: string, collection: string): Buffer {
  if (key.length > MAX_KEY_BYTES) {
    throw new PersistenceError(`index key of ${what} is ${key.length} bytes, more than LMDB's ${MAX_KEY_BYTES}`, { collection });
  }
  return key;
}
