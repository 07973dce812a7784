/**
 * An in-memory byte store kept sorted at all times (binary search, array splice), for stores that
 * interleave range scans with inserts on every record — window and session stores, where a
 * store sorted on demand would re-sort after each new window. An insert moves O(n) references;
 * a range scan costs O(log n) plus what it returns.
 */
import type { BytesStore } from './store.ts';

export class SortedMemoryBytesStore implements BytesStore {
  private keys: Buffer[] = [];
  private values: Buffer[] = [];

  get(key: Buffer): Buffer | undefined {
    const i = this.lowerBound(key);
    return i < this.keys.length && this.keys[i]!.equals(key) ? this.values[i] : undefined;
  }

  put(key: Buffer, value: Buffer): void {
    const i = this.lowerBound(key);
    if (i < this.keys.length && this.keys[i]!.equals(key)) { this.values[i] = value; return; }
    this.keys.splice(i, 0, Buffer.from(key));
    this.values.splice(i, 0, value);
  }

  delete(key: Buffer): void {
    const i = this.lowerBound(key);
    if (i < this.keys.length && this.keys[i]!.equals(key)) {
      this.keys.splice(i, 1);
      this.values.splice(i, 1);
    }
  }

  /** Entries from ≤ key ≤ to; the store must not change while the result is iterated. */
  *range(from?: Buffer, to?: Buffer): Iterable<[Buffer, Buffer]> {
    for (let i = from ? this.lowerBound(from) : 0; i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if (to && Buffer.compare(key, to) > 0) return;
      yield [key, this.values[i]!];
    }
  }

  size(): number {
    return this.keys.length;
  }

  clear(): void {
    this.keys = [];
    this.values = [];
  }

  close(): void {
    this.clear();
  }

  private lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid]!, key) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}
