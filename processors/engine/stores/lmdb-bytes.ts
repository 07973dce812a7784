/**
 * A persistent byte store on LMDB (memory-mapped B+tree, ACID). Writes are synchronous because
 * processing is; `noSync` because durability comes from the changelog, not from fsync.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { BytesStore } from './store.ts';

export class LmdbBytesStore implements BytesStore {
  private readonly root: RootDatabase<Buffer, Buffer>;
  private readonly db: Database<Buffer, Buffer>;
  private count: number;

  constructor(private readonly path: string) {
    mkdirSync(path, { recursive: true });
    this.root = open<Buffer, Buffer>({ path, noSync: true, keyEncoding: 'binary', encoding: 'binary' });
    this.db = this.root;
    this.count = this.db.getCount();
  }

  get(key: Buffer): Buffer | undefined {
    return this.db.get(key) ?? undefined;
  }

  put(key: Buffer, value: Buffer): void {
    if (this.db.get(key) === undefined) this.count++;
    this.db.putSync(key, value);
  }

  delete(key: Buffer): void {
    if (this.db.removeSync(key)) this.count--;
  }

  *range(from?: Buffer, to?: Buffer): Iterable<[Buffer, Buffer]> {
    for (const { key, value } of this.db.getRange({ start: from })) {
      if (to && Buffer.compare(key, to) > 0) return;
      yield [key, value];
    }
  }

  size(): number {
    return this.count;
  }

  clear(): void {
    this.db.clearSync();
    this.count = 0;
  }

  close(): void {
    this.root.close();
  }

  /** Removes the files: a store that will be restored from its changelog starts empty. */
  destroy(): void {
    this.close();
    rmSync(this.path, { recursive: true, force: true });
  }
}
