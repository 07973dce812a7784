/** An in-memory byte store, ordered on demand for range scans. */
import type { BytesStore } from './store.ts';

export class MemoryBytesStore implements BytesStore {
  private readonly entries = new Map<string, [Buffer, Buffer]>();
  /** Sorted keys, rebuilt only after a key is added or removed (updates keep it valid). */
  private sorted: [Buffer, Buffer][] | undefined;

  get(key: Buffer): Buffer | undefined {
    return this.entries.get(key.toString('latin1'))?.[1];
  }

  put(key: Buffer, value: Buffer): void {
    const k = key.toString('latin1');
    const existing = this.entries.get(k);
    if (existing) { existing[1] = value; return; }
    this.entries.set(k, [Buffer.from(key), value]);
    this.sorted = undefined;
  }

  delete(key: Buffer): void {
    if (this.entries.delete(key.toString('latin1'))) this.sorted = undefined;
  }

  *range(from?: Buffer, to?: Buffer): Iterable<[Buffer, Buffer]> {
    this.sorted ??= [...this.entries.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
    const snapshot = this.sorted;
    let i = from ? lowerBound(snapshot, from) : 0;
    for (; i < snapshot.length; i++) {
      const entry = snapshot[i]!;
      if (to && Buffer.compare(entry[0], to) > 0) return;
      yield [entry[0], entry[1]];
    }
  }

  size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.sorted = undefined;
  }

  close(): void {
    this.clear();
  }
}

function lowerBound(entries: readonly [Buffer, Buffer][], key: Buffer): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(entries[mid]![0], key) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}
