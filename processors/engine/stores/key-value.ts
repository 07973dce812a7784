/** The typed key-value store over a byte store, writing every change to its changelog. */
import { join } from 'node:path';
import { Serdes, type Codec } from '../serde.ts';
import { LmdbBytesStore } from './lmdb-bytes.ts';
import { SortedMemoryBytesStore } from './sorted-memory-bytes.ts';
import type { BytesStore, KeyValue, KeyValueStore, StoreBuilder, StoreContext } from './store.ts';

export interface KeyValueStoreOptions<K, V> {
  readonly keyCodec?: Codec<K>;
  readonly valueCodec?: Codec<V>;
  /** LMDB on disk instead of memory. */
  readonly persistent?: boolean;
  /** Write a changelog (default true). */
  readonly logging?: boolean;
}

export function keyValueStore<K, V>(name: string, options: KeyValueStoreOptions<K, V> = {}): StoreBuilder<KeyValueStore<K, V>> {
  const persistent = options.persistent ?? false;
  return {
    name, kind: 'key-value', logging: options.logging ?? true, persistent,
    build: () => new TypedKeyValueStore<K, V>(name, persistent, options.keyCodec ?? Serdes.json<K>(), options.valueCodec ?? Serdes.json<V>()),
  };
}

export class TypedKeyValueStore<K, V> implements KeyValueStore<K, V> {
  private inner: BytesStore | undefined;
  private context: StoreContext | undefined;

  constructor(
    readonly name: string,
    readonly persistent: boolean,
    private readonly keyCodec: Codec<K>,
    private readonly valueCodec: Codec<V>,
  ) {}

  init(context: StoreContext): void {
    this.context = context;
    this.inner = this.persistent
      ? new LmdbBytesStore(join(context.stateDir, this.name))
      : new SortedMemoryBytesStore();
  }

  get(key: K): V | undefined {
    const bytes = this.bytes().get(this.keyCodec.encode(key));
    return bytes === undefined ? undefined : this.valueCodec.decode(bytes);
  }

  put(key: K, value: V): void {
    const k = this.keyCodec.encode(key);
    const v = this.valueCodec.encode(value);
    this.bytes().put(k, v);
    this.context?.log(k, v);
  }

  putIfAbsent(key: K, value: V): V | undefined {
    const existing = this.get(key);
    if (existing === undefined) this.put(key, value);
    return existing;
  }

  delete(key: K): V | undefined {
    const k = this.keyCodec.encode(key);
    const old = this.bytes().get(k);
    if (old === undefined) return undefined;
    this.bytes().delete(k);
    this.context?.log(k, null);
    return this.valueCodec.decode(old);
  }

  range(from?: K, to?: K): KeyValue<K, V>[] {
    const out: KeyValue<K, V>[] = [];
    const f = from === undefined ? undefined : this.keyCodec.encode(from);
    const t = to === undefined ? undefined : this.keyCodec.encode(to);
    for (const [k, v] of this.bytes().range(f, t)) out.push({ key: this.keyCodec.decode(k), value: this.valueCodec.decode(v) });
    return out;
  }

  all(): KeyValue<K, V>[] {
    return this.range();
  }

  approximateNumEntries(): number {
    return this.bytes().size();
  }

  restore(key: Buffer, value: Buffer | null): void {
    if (value === null) this.bytes().delete(key); else this.bytes().put(key, value);
  }

  clear(): void {
    this.bytes().clear();
  }

  changelogEntries(): Iterable<[Buffer, Buffer]> {
    return this.bytes().range();
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
