/**
 * The byte layout shared by window and session stores: entries identified by (key, time,
 * suffix) — time is a window start or a session end, the suffix a sequence number or a session
 * start. Each entry is written twice in one byte store: once key-first, for fetches of one key
 * over a time range, and once time-first (value-less), so that fetches of all keys over a time
 * range and retention need not scan the whole store.
 *
 *   key-first:  0x00 | key length u32 | key | time | suffix   → value
 *   time-first: 0x01 | time | key length u32 | key | suffix   → empty
 *
 * Times are written order-preserving (signed ms as two u32 with the sign bias) so that byte
 * order is time order.
 */
import { join } from 'node:path';
import { LmdbBytesStore } from './lmdb-bytes.ts';
import { SortedMemoryBytesStore } from './sorted-memory-bytes.ts';
import type { BytesStore, StoreContext } from './store.ts';

const BY_KEY = 0x00;
const BY_TIME = 0x01;
const TIME_BYTES = 8;
const EMPTY = Buffer.alloc(0);

export interface WindowedBytesEntry {
  readonly key: Buffer;
  readonly time: number;
  readonly suffix: Buffer;
  readonly value: Buffer;
}

export class WindowedBytes {
  private inner: BytesStore | undefined;
  /** No entry has a time below this: purging is skipped until the live bound passes it. */
  private lowest = Number.NEGATIVE_INFINITY;

  constructor(private readonly name: string, private readonly persistent: boolean, private readonly suffixLength: number) {}

  init(context: StoreContext): void {
    this.inner = this.persistent ? new LmdbBytesStore(join(context.stateDir, this.name)) : new SortedMemoryBytesStore();
    this.lowest = this.inner.size() === 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  get(key: Buffer, time: number, suffix: Buffer): Buffer | undefined {
    return this.bytes().get(byKey(key, time, suffix));
  }

  /** Writes or (value null) deletes one entry. */
  put(key: Buffer, time: number, suffix: Buffer, value: Buffer | null): void {
    const primary = byKey(key, time, suffix);
    if (value === null) {
      this.bytes().delete(primary);
      this.bytes().delete(byTime(key, time, suffix));
      return;
    }
    if (this.bytes().get(primary) === undefined) this.bytes().put(byTime(key, time, suffix), EMPTY);
    this.bytes().put(primary, value);
    if (time < this.lowest) this.lowest = time;
  }

  /** Entries of one key with timeFrom ≤ time ≤ timeTo, by time then suffix. */
  *fetch(key: Buffer, timeFrom: number, timeTo: number): Iterable<WindowedBytesEntry> {
    const from = byKey(key, timeFrom, Buffer.alloc(this.suffixLength, 0x00));
    const to = byKey(key, timeTo, Buffer.alloc(this.suffixLength, 0xff));
    for (const [k, v] of this.bytes().range(from, to)) {
      const at = 5 + key.length;
      yield { key, time: readTime(k, at), suffix: k.subarray(at + TIME_BYTES), value: v };
    }
  }

  /** Entries of every key with timeFrom ≤ time ≤ timeTo, by time then key. */
  *fetchAll(timeFrom: number, timeTo: number): Iterable<WindowedBytesEntry> {
    const from = Buffer.concat([Buffer.of(BY_TIME), timeBytes(timeFrom)]);
    const to = Buffer.concat([Buffer.of(BY_TIME), timeBytes(timeTo), Buffer.alloc(1, 0xff)]);
    for (const [k] of this.bytes().range(from, to)) {
      const time = readTime(k, 1);
      const keyLength = k.readUInt32BE(1 + TIME_BYTES);
      const key = k.subarray(5 + TIME_BYTES, 5 + TIME_BYTES + keyLength);
      const suffix = k.subarray(5 + TIME_BYTES + keyLength);
      const value = this.bytes().get(byKey(key, time, suffix));
      if (value !== undefined) yield { key, time, suffix, value };
    }
  }

  /**
   * Removes every entry with time < liveFrom, calling `onExpired` for each (to log its tombstone).
   * Cheap when nothing can have expired.
   */
  purge(liveFrom: number, onExpired: (e: Omit<WindowedBytesEntry, 'value'>) => void): void {
    if (liveFrom <= this.lowest) return;
    const expired = [...this.fetchAll(Number.MIN_SAFE_INTEGER, liveFrom - 1)];
    for (const e of expired) {
      this.put(e.key, e.time, e.suffix, null);
      onExpired(e);
    }
    this.lowest = liveFrom;
  }

  size(): number {
    return this.bytes().size() / 2;
  }

  clear(): void {
    this.bytes().clear();
    this.lowest = Number.POSITIVE_INFINITY;
  }

  close(): void {
    this.inner?.close();
    this.inner = undefined;
  }

  private bytes(): BytesStore {
    if (!this.inner) throw new Error(`store ${this.name} is used before init or after close`);
    return this.inner;
  }
}

/** Order-preserving 8 bytes for a signed safe-integer time. */
export function timeBytes(time: number): Buffer {
  const b = Buffer.alloc(TIME_BYTES);
  writeTime(b, time, 0);
  return b;
}

function writeTime(b: Buffer, time: number, at: number): void {
  const t = Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, time));
  const hi = Math.floor(t / 2 ** 32);
  b.writeUInt32BE(hi + 2 ** 31, at);
  b.writeUInt32BE(t - hi * 2 ** 32, at + 4);
}

/** Reads what `timeBytes` wrote. */
export function readTime(b: Buffer, at = 0): number {
  return (b.readUInt32BE(at) - 2 ** 31) * 2 ** 32 + b.readUInt32BE(at + 4);
}

function byKey(key: Buffer, time: number, suffix: Buffer): Buffer {
  const b = Buffer.alloc(5 + key.length + TIME_BYTES + suffix.length);
  b[0] = BY_KEY;
  b.writeUInt32BE(key.length, 1);
  key.copy(b, 5);
  writeTime(b, time, 5 + key.length);
  suffix.copy(b, 5 + key.length + TIME_BYTES);
  return b;
}

function byTime(key: Buffer, time: number, suffix: Buffer): Buffer {
  const b = Buffer.alloc(1 + TIME_BYTES + 4 + key.length + suffix.length);
  b[0] = BY_TIME;
  writeTime(b, time, 1);
  b.writeUInt32BE(key.length, 1 + TIME_BYTES);
  key.copy(b, 5 + TIME_BYTES);
  suffix.copy(b, 5 + TIME_BYTES + key.length);
  return b;
}

/** A Java long, big-endian, as Kafka writes times in changelog keys. */
export function writeLong(b: Buffer, value: number, at: number): void {
  b.writeBigInt64BE(BigInt(value), at);
}

export function readLong(b: Buffer, at: number): number {
  return Number(b.readBigInt64BE(at));
}
