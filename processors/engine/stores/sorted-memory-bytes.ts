/**
 * The in-memory byte store of key-value, window and session stores. Point reads and writes go
 * to a hash map; key order lives in a B+ tree (sorted-btree) that is built at the first range
 * scan and kept from then on, so a store only ever read by key (most key-value stores) never
 * pays for order, while window and session stores, and the retention index, which scan ranges
 * as records arrive, insert in O(log n) — Kafka Streams' in-memory store is a TreeMap for that
 * reason. The sorted array this replaces moved O(n) references per new key: a restore of n keys
 * was O(n²).
 *
 * Keys are held as latin1 strings (one char per byte): their order as JS strings is the bytes'
 * unsigned order, as `Buffer.compare` gives it, and comparing them is far cheaper.
 */
import sortedBtree from 'sorted-btree';
import type { BytesStore } from './store.ts';

// A CommonJS module with `exports.default`: the default import is its exports object.
const BTree = sortedBtree.default;
type Tree = InstanceType<typeof BTree<string, Entry>>;

/** Key and value; shared by the map and the tree, so that an update of a value is one write. */
type Entry = [key: Buffer, value: Buffer];

export class SortedMemoryBytesStore implements BytesStore {
  readonly #entries = new Map<string, Entry>();
  #ordered: Tree | undefined;

  get(key: Buffer): Buffer | undefined {
    return this.#entries.get(key.toString('latin1'))?.[1];
  }

  put(key: Buffer, value: Buffer): void {
    const id = key.toString('latin1');
    const entry = this.#entries.get(id);
    if (entry) { entry[1] = value; return; }
    // A new key is copied: the caller's may be a slice of a whole fetched batch, which the
    // store would otherwise keep alive.
    const fresh: Entry = [Buffer.from(key), value];
    this.#entries.set(id, fresh);
    this.#ordered?.set(id, fresh);
  }

  delete(key: Buffer): void {
    const id = key.toString('latin1');
    if (this.#entries.delete(id)) this.#ordered?.delete(id);
  }

  /** Entries from ≤ key ≤ to, in key order; the store must not change while the result is iterated. */
  *range(from?: Buffer, to?: Buffer): Iterable<[Buffer, Buffer]> {
    const ordered = (this.#ordered ??= new BTree<string, Entry>([...this.#entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))));
    const high = to?.toString('latin1');
    for (const [id, entry] of ordered.entries(from?.toString('latin1'))) {
      if (high !== undefined && id > high) return;
      yield [entry[0], entry[1]];
    }
  }

  size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#ordered = undefined;
  }

  close(): void {
    this.clear();
  }
}
