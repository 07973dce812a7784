/**
 * State stores, as in Kafka Streams: a task owns its partition's slice of each store; every
 * change is written to the store's changelog topic, and the store is rebuilt from it when the
 * task starts or moves. Stores are read and written synchronously during processing.
 */

export interface StoreContext {
  readonly applicationId: string;
  readonly taskId: string;
  readonly partition: number;
  /** Directory for persistent stores of this task. */
  readonly stateDir: string;
  /** Records a change for the changelog (a no-op when logging is disabled). */
  log(key: Buffer, value: Buffer | null): void;
  /** The task's stream time, for retention of windowed stores. */
  streamTime(): number;
}

export interface StateStore {
  readonly name: string;
  readonly persistent: boolean;
  init(context: StoreContext): void;
  /** Applies one changelog record while restoring (no logging). */
  restore(key: Buffer, value: Buffer | null): void;
  /** Forgets every entry: a restore starts from an empty store. */
  clear(): void;
  /**
   * Every entry as the changelog record that wrote it: restored into an empty store, they rebuild
   * this one (a snapshot, where the changelog is not compacted).
   */
  changelogEntries(): Iterable<[Buffer, Buffer]>;
  approximateNumEntries(): number;
  close(): void;
}

export type StoreKind = 'key-value' | 'window' | 'session' | 'timestamped-key-value';

/** How a topology declares a store: built once per task. */
export interface StoreBuilder<S extends StateStore = StateStore> {
  readonly name: string;
  readonly kind: StoreKind;
  /** Write a changelog (default true), restored on start and on rebalance. */
  readonly logging: boolean;
  readonly persistent: boolean;
  build(): S;
}

export interface KeyValue<K, V> {
  readonly key: K;
  readonly value: V;
}

export interface ReadOnlyKeyValueStore<K, V> {
  get(key: K): V | undefined;
  /** Entries with from ≤ key ≤ to in the order of the key's encoded bytes. */
  range(from?: K, to?: K): KeyValue<K, V>[];
  all(): KeyValue<K, V>[];
  approximateNumEntries(): number;
}

export interface KeyValueStore<K, V> extends StateStore, ReadOnlyKeyValueStore<K, V> {
  put(key: K, value: V): void;
  putIfAbsent(key: K, value: V): V | undefined;
  /** Removes the key; returns the value it had. */
  delete(key: K): V | undefined;
}

/** The byte-level store beneath a typed one: in memory or LMDB. */
export interface BytesStore {
  get(key: Buffer): Buffer | undefined;
  put(key: Buffer, value: Buffer): void;
  delete(key: Buffer): void;
  /** Ordered by bytes; bounds inclusive. */
  range(from?: Buffer, to?: Buffer): Iterable<[Buffer, Buffer]>;
  size(): number;
  clear(): void;
  close(): void;
}
