/**
 * KGroupedTable: table rows re-keyed for aggregation. An update arrives as a subtraction of the
 * old row and an addition of the new one, so the aggregate stays exact under updates and deletes.
 */
import type { ProcessorContext } from '../processor.ts';
import { Serdes, type Serde } from '../serde.ts';
import type { Change } from '../record.ts';
import type { KeyValueStore } from '../stores/store.ts';
import type { StreamsBuilder } from './builder.ts';
import type { Aggregator, Initializer, Reducer } from './grouped-stream.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './options.ts';

export class KGroupedTable<K, V> {
  constructor(
    private readonly builder: StreamsBuilder,
    private readonly node: string,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
  ) {}

  count(materialized: Materialized<K, number> = {}): KTable<K, number> {
    return this.aggregate<number>(() => 0, (_k, _v, n) => n + 1, (_k, _v, n) => n - 1, { valueSerde: Serdes.long(), ...materialized });
  }

  reduce(adder: Reducer<V>, subtractor: Reducer<V>, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.build<V>(
      (_k, v, agg) => (agg === undefined ? v : adder(agg, v)),
      (_k, v, agg) => (agg === undefined ? undefined : subtractor(agg, v)),
      { valueSerde: this.valueSerde, ...materialized },
    );
  }

  aggregate<VA>(initializer: Initializer<VA>, adder: Aggregator<K, V, VA>, subtractor: Aggregator<K, V, VA>, materialized: Materialized<K, VA> = {}): KTable<K, VA> {
    return this.build<VA>(
      (k, v, agg) => adder(k, v, agg === undefined ? initializer() : agg),
      (k, v, agg) => subtractor(k, v, agg === undefined ? initializer() : agg),
      materialized,
    );
  }

  private build<VA>(
    add: (k: K, v: V, agg: VA | undefined) => VA,
    subtract: (k: K, v: V, agg: VA | undefined) => VA | undefined,
    materialized: Materialized<K, VA>,
  ): KTable<K, VA> {
    const b = this.builder;
    const storeName = materialized.storeName ?? b.name('KTABLE-AGGREGATE-STATE-STORE');
    const name = b.name('KTABLE-AGGREGATE');
    b.topology.addProcessor<K, Change<V>, K, Change<VA>>(name, () => {
      let ctx: ProcessorContext<K, Change<VA>>;
      let store: KeyValueStore<K, VA>;
      return {
        init(c) { ctx = c; store = c.getStateStore(storeName); },
        process(r) {
          if (r.key === null || r.key === undefined) return;
          const old = store.get(r.key);
          let agg: VA | undefined = old;
          if (r.value.oldValue !== null) agg = subtract(r.key, r.value.oldValue, agg);
          if (r.value.newValue !== null) agg = add(r.key, r.value.newValue, agg);
          if (agg === undefined) store.delete(r.key); else store.put(r.key, agg);
          ctx.forward({ ...r, value: { newValue: agg ?? null, oldValue: old ?? null } });
        },
      };
    }, this.node);
    return b.storedTable<K, VA>(name, storeName, { ...materialized, keySerde: materialized.keySerde ?? this.keySerde });
  }
}
