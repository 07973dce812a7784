/**
 * TimeWindowedKStream: a grouped stream cut into time windows (tumbling, hopping) or sliding
 * windows, aggregated per key and window into a table keyed by `Windowed<K>`. Every update of a
 * window is forwarded (use `suppress` for final results only); a record whose window has closed
 * (stream time ≥ window end + grace) is dropped and counted in `droppedLateRecords`.
 */
import { TopologyError } from '../errors.ts';
import type { Processor, ProcessorContext } from '../processor.ts';
import type { Change } from '../record.ts';
import { Serdes } from '../serde.ts';
import { windowStore, type WindowStore } from '../stores/window.ts';
import { codecOf } from './builder.ts';
import type { Aggregator, Initializer, KGroupedStream, Reducer } from './grouped-stream.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './options.ts';
import { slidingWindowAggregate } from './sliding-window-aggregate.ts';
import { recordLateDrop, registerWindowedNode } from './window-metadata.ts';
import { WindowedSerdes, windowed, type Windowed } from './windowed.ts';
import { SlidingWindows, type TimeWindows } from './windows.ts';

/** Materialized, plus how long windows are kept (default: what the windows need). */
export interface WindowedMaterialized<K, V> extends Materialized<K, V> {
  readonly retentionMs?: number;
}

/** One aggregation step; `aggregate` is undefined for the first record of a window of a reduce. */
export type AggregateStep<K, V, VA> = (key: K, value: V, aggregate: VA | undefined) => VA;

export class TimeWindowedKStream<K, V> {
  constructor(private readonly grouped: KGroupedStream<K, V>, readonly windows: TimeWindows | SlidingWindows) {}

  count(materialized: WindowedMaterialized<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregate<number>(() => 0, (_k, _v, n) => n + 1, { valueSerde: Serdes.long(), ...materialized });
  }

  reduce(reducer: Reducer<V>, materialized: WindowedMaterialized<K, V> = {}): KTable<Windowed<K>, V> {
    return this.build<V>(() => undefined, (_k, v, agg) => (agg === undefined ? v : reducer(agg, v)), { valueSerde: this.grouped.valueSerde, ...materialized }, 'REDUCE');
  }

  aggregate<VA>(initializer: Initializer<VA>, aggregator: Aggregator<K, V, VA>, materialized: WindowedMaterialized<K, VA> = {}): KTable<Windowed<K>, VA> {
    return this.build<VA>(initializer, (k, v, agg) => aggregator(k, v, agg === undefined ? initializer() : agg), materialized, 'AGGREGATE');
  }

  private build<VA>(initial: () => VA | undefined, step: AggregateStep<K, V, VA>, materialized: WindowedMaterialized<K, VA>, op: string): KTable<Windowed<K>, VA> {
    const b = this.grouped.stream.builder;
    const t = b.topology;
    const w = this.windows;
    const sliding = w instanceof SlidingWindows;
    const prefix = sliding ? `KSTREAM-SLIDINGWINDOW-${op}` : `KSTREAM-WINDOW-${op}`;
    const storeName = materialized.storeName ?? b.name(`${prefix}-STATE-STORE`);
    const name = b.name(prefix);
    const sizeMs = sliding ? w.timeDifferenceMs : w.sizeMs;
    // Sliding windows keep the previous windows a new record's windows are built from.
    const needed = sliding ? 2 * w.timeDifferenceMs + w.graceMs : w.sizeMs + w.graceMs;
    const retentionMs = materialized.retentionMs ?? needed;
    if (retentionMs < needed) throw new TopologyError(`retention ${retentionMs} ms of ${storeName} is shorter than the ${needed} ms its windows need`);
    const late = () => recordLateDrop(t, name);
    t.addProcessor<K, V, Windowed<K>, Change<VA>>(name, sliding
      ? slidingWindowAggregate<K, V, VA>(storeName, w, initial, step, late)
      : timeWindowAggregate<K, V, VA>(storeName, w, step, late), this.grouped.stream.node);
    const keySerde = materialized.keySerde ?? this.grouped.keySerde;
    t.addStateStore(windowStore<K, VA>(storeName, {
      keyCodec: codecOf(keySerde), valueCodec: codecOf(materialized.valueSerde),
      windowSizeMs: sizeMs, retentionMs, persistent: materialized.persistent, logging: materialized.logging,
    }), name);
    // Sliding windows include their end: one ms more passes before nothing can change them.
    registerWindowedNode(t, name, sliding ? w.graceMs + 1 : w.graceMs);
    return new KTable<Windowed<K>, VA>(b, name, storeName, WindowedSerdes.timeWindowed<K>(keySerde, sizeMs), materialized.valueSerde);
  }
}

function timeWindowAggregate<K, V, VA>(
  storeName: string, windows: TimeWindows, step: AggregateStep<K, V, VA>, late: () => void,
): () => Processor<K, V, Windowed<K>, Change<VA>> {
  return () => {
    let ctx: ProcessorContext<Windowed<K>, Change<VA>>;
    let store: WindowStore<K, VA>;
    return {
      init(c) { ctx = c; store = c.getStateStore(storeName); },
      process(r) {
        if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) return;
        const closeTime = ctx.currentStreamTime() - windows.graceMs;
        for (const w of windows.windowsFor(r.timestamp)) {
          if (w.end <= closeTime) { late(); continue; }
          const old = store.getWithTimestamp(r.key, w.start);
          const next = step(r.key, r.value, old?.value);
          const timestamp = old ? Math.max(old.timestamp, r.timestamp) : r.timestamp;
          store.put(r.key, next, w.start, timestamp);
          ctx.forward({ key: windowed(r.key, w.start, w.end), value: { newValue: next, oldValue: old?.value ?? null }, timestamp, headers: r.headers });
        }
      },
    };
  };
}

