/**
 * KGroupedStream: a stream grouped by key (repartitioned if the key was changed), ready for an
 * aggregation into a table. Records with a null key or value are skipped, as in Kafka Streams.
 */
import type { ProcessorContext } from '../processor.ts';
import type { Serde } from '../serde.ts';
import { Serdes } from '../serde.ts';
import type { Change } from '../record.ts';
import type { KeyValueStore } from '../stores/store.ts';
import type { KStream } from './kstream.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './options.ts';
import { SessionWindowedKStream } from './session-windowed-stream.ts';
import { TimeWindowedKStream } from './windowed-stream.ts';
import { SessionWindows, type SlidingWindows, type TimeWindows } from './windows.ts';

export type Initializer<VA> = () => VA;
export type Aggregator<K, V, VA> = (key: K, value: V, aggregate: VA) => VA;
export type Reducer<V> = (aggregate: V, value: V) => V;

export class KGroupedStream<K, V> {
  constructor(
    readonly stream: KStream<K, V>,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
  ) {}

  count(materialized: Materialized<K, number> = {}): KTable<K, number> {
    return this.aggregate<number>(() => 0, (_k, _v, n) => n + 1, { valueSerde: Serdes.long(), ...materialized });
  }

  reduce(reducer: Reducer<V>, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.doAggregate<V>((_k, v, agg) => (agg === undefined ? v : reducer(agg, v)), { valueSerde: this.valueSerde, ...materialized }, 'KSTREAM-REDUCE');
  }

  aggregate<VA>(initializer: Initializer<VA>, aggregator: Aggregator<K, V, VA>, materialized: Materialized<K, VA> = {}): KTable<K, VA> {
    return this.doAggregate<VA>((k, v, agg) => aggregator(k, v, agg === undefined ? initializer() : agg), materialized, 'KSTREAM-AGGREGATE');
  }

  /** Aggregates per key and window from here on (see windowed-stream.ts, session-windowed-stream.ts). */
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SlidingWindows | SessionWindows): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> {
    return windows instanceof SessionWindows ? new SessionWindowedKStream(this, windows) : new TimeWindowedKStream(this, windows);
  }

  private doAggregate<VA>(step: (key: K, value: V, aggregate: VA | undefined) => VA, materialized: Materialized<K, VA>, prefix: string): KTable<K, VA> {
    const b = this.stream.builder;
    const storeName = materialized.storeName ?? b.name(`${prefix}-STATE-STORE`);
    const name = b.name(prefix);
    b.topology.addProcessor<K, V, K, Change<VA>>(name, () => {
      let store: KeyValueStore<K, VA>;
      let ctx: ProcessorContext<K, Change<VA>>;
      return {
        init(c) { ctx = c; store = c.getStateStore(storeName); },
        process(r) {
          if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) return;
          const old = store.get(r.key);
          const next = step(r.key, r.value, old);
          store.put(r.key, next);
          ctx.forward({ ...r, value: { newValue: next, oldValue: old ?? null } });
        },
      };
    }, this.stream.node);
    return b.storedTable<K, VA>(name, storeName, { ...materialized, keySerde: materialized.keySerde ?? this.keySerde });
  }
}
