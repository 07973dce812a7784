/**
 * The DSL's entry point, as Kafka Streams' StreamsBuilder: streams, tables and global tables
 * from topics; `build()` returns the processor graph.
 */
import { Serdes, isCodec, type Codec, type Serde } from '../serde.ts';
import { keyValueStore } from '../stores/key-value.ts';
import type { KeyValueStore, StoreBuilder } from '../stores/store.ts';
import { Topology } from '../topology.ts';
import { GlobalKTable } from './global-table.ts';
import { KStream } from './kstream.ts';
import { KTable } from './ktable.ts';
import type { Consumed, Materialized } from './options.ts';
import { materializeProcessor, toChangeProcessor } from './processors.ts';

export class StreamsBuilder {
  /** @internal The graph the DSL builds; team code uses the builder's methods and `build()`. */
  readonly topology = new Topology();
  private counter = 0;

  stream<K, V>(topics: string | readonly string[], consumed: Consumed<K, V> = {}): KStream<K, V> {
    const name = consumed.name ?? this.name('KSTREAM-SOURCE');
    this.topology.addSource(name, topics, consumed);
    return new KStream<K, V>(this, name, consumed.keySerde, consumed.valueSerde, false);
  }

  /** A table from a topic: the latest value per key; a null value deletes the key. */
  table<K, V>(topic: string, consumed: Consumed<K, V> = {}, materialized: Materialized<K, V> = {}): KTable<K, V> {
    const source = consumed.name ?? this.name('KTABLE-SOURCE');
    this.topology.addSource(source, topic, consumed);
    const changes = this.name('KTABLE-CHANGES');
    this.topology.addProcessor(changes, toChangeProcessor<K, V>(), source);
    return this.materialize<K, V>(changes, { keySerde: consumed.keySerde, valueSerde: consumed.valueSerde, ...materialized });
  }

  /** A table every instance holds whole, from all partitions of the topic. */
  globalTable<K, V>(topic: string, consumed: Consumed<K, V> = {}, materialized: Materialized<K, V> = {}): GlobalKTable<K, V> {
    const storeName = materialized.storeName ?? this.name('GLOBALKTABLE-STORE');
    const store = keyValueStore<K, V>(storeName, {
      keyCodec: codecOf(materialized.keySerde ?? consumed.keySerde), valueCodec: codecOf(materialized.valueSerde ?? consumed.valueSerde),
      persistent: materialized.persistent, logging: false,
    });
    this.topology.addGlobalStore<K, V>(store, consumed.name ?? this.name('GLOBALKTABLE-SOURCE'), topic, consumed, this.name('GLOBALKTABLE-PROCESSOR'), () => {
      let kv: KeyValueStore<K, V>;
      return {
        init(c) { kv = c.getStateStore(storeName); },
        process(r) {
          if (r.key === null || r.key === undefined) return;
          if (r.value === null || r.value === undefined) kv.delete(r.key); else kv.put(r.key, r.value);
        },
      };
    });
    return new GlobalKTable<K, V>(storeName, topic);
  }

  addStateStore(store: StoreBuilder): this {
    this.topology.addStateStore(store);
    return this;
  }

  /**
   * Declares topics read together by key (a processor joining them through a shared store): the
   * application refuses to start unless they have one partition count, and internal topics
   * among them take it.
   */
  copartition(...topics: string[]): this {
    this.topology.copartition(topics);
    return this;
  }

  /**
   * Declares a topic the application writes and reads itself, named `<applicationId>-<name>`
   * (as a repartition topic is), created at start with `partitions` or its writer's count.
   */
  internalTopic(name: string, options: { readonly partitions?: number } = {}): this {
    this.topology.addInternalTopic({ name, purpose: 'repartition', partitions: options.partitions });
    return this;
  }

  build(): Topology {
    this.topology.validate();
    return this.topology;
  }

  /** Kafka Streams-style generated names: `KSTREAM-FILTER-0000000003`. */
  name(prefix: string): string {
    return `${prefix}-${String(this.counter++).padStart(10, '0')}`;
  }

  /** Adds a store fed by `parent`'s changes and returns the table it holds. */
  materialize<K, V>(parent: string, materialized: Materialized<K, V>): KTable<K, V> {
    const storeName = materialized.storeName ?? this.name('KTABLE-STORE');
    const node = this.name('KTABLE-MATERIALIZE');
    this.topology.addProcessor(node, materializeProcessor<K, V>(storeName), parent);
    return this.storedTable<K, V>(node, storeName, materialized);
  }

  /** Adds the key-value store that `node` keeps a table in, and returns that table. */
  storedTable<K, V>(node: string, storeName: string, materialized: Materialized<K, V>): KTable<K, V> {
    this.topology.addStateStore(keyValueStore<K, V>(storeName, {
      keyCodec: codecOf(materialized.keySerde), valueCodec: codecOf(materialized.valueSerde),
      persistent: materialized.persistent, logging: materialized.logging,
    }), node);
    return new KTable<K, V>(this, node, storeName, materialized.keySerde, materialized.valueSerde);
  }
}

/** A store needs a synchronous codec: the serde itself where it is one, JSON otherwise. */
export function codecOf<T>(serde: Serde<T> | undefined): Codec<T> {
  return serde && isCodec(serde) ? serde : Serdes.json<T>();
}
