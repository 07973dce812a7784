/** Options of DSL operators, named after their Kafka Streams counterparts. */
import type { Serde } from '../serde.ts';
import type { TimestampExtractor } from '../topology.ts';

export interface Consumed<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly timestampExtractor?: TimestampExtractor;
  /** Node name; generated when absent. */
  readonly name?: string;
}

export interface Produced<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly partitioner?: (key: K, value: V, partitions: number) => number;
  readonly name?: string;
}

/** How a store behind a table or aggregate is kept. */
export interface Materialized<K, V> {
  /** Store name (also the name for interactive queries); generated when absent. */
  readonly storeName?: string;
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** LMDB on disk instead of memory. */
  readonly persistent?: boolean;
  /** Write a changelog (default true). */
  readonly logging?: boolean;
}

export interface Grouped<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** Names the repartition topic (`<appId>-<name>-repartition`). */
  readonly name?: string;
}

export interface Repartitioned<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly name?: string;
  /** Partition count of the repartition topic; default that of the upstream sources. */
  readonly partitions?: number;
  readonly partitioner?: (key: K, value: V, partitions: number) => number;
}

export interface Named {
  readonly name?: string;
}
