/**
 * SessionWindowedKStream: a grouped stream cut into sessions per key — records closer than the
 * inactivity gap share a session. A record that bridges sessions merges them (Kafka Streams'
 * KStreamSessionWindowAggregate): the merged sessions are deleted from the store and forwarded
 * as tombstones, then the new session is forwarded with the merged aggregate. A record whose
 * merged session ended before stream time − gap − grace is dropped as late.
 */
import type { Processor, ProcessorContext } from '../processor.ts';
import type { Change } from '../record.ts';
import { Serdes } from '../serde.ts';
import { sessionStore, type SessionStore } from '../stores/session.ts';
import { TopologyError } from '../errors.ts';
import { codecOf } from './builder.ts';
import type { Aggregator, Initializer, KGroupedStream, Reducer } from './grouped-stream.ts';
import { KTable } from './ktable.ts';
import { recordLateDrop, registerWindowedNode } from './window-metadata.ts';
import type { AggregateStep, WindowedMaterialized } from './windowed-stream.ts';
import { WindowedSerdes, windowed, type Windowed } from './windowed.ts';
import type { SessionWindows } from './windows.ts';

/** Combines the aggregates of two sessions that a record has joined into one. */
export type Merger<K, VA> = (key: K, aggregate1: VA, aggregate2: VA) => VA;

export class SessionWindowedKStream<K, V> {
  constructor(private readonly grouped: KGroupedStream<K, V>, readonly windows: SessionWindows) {}

  count(materialized: WindowedMaterialized<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregate<number>(() => 0, (_k, _v, n) => n + 1, (_k, a, b) => a + b, { valueSerde: Serdes.long(), ...materialized });
  }

  reduce(reducer: Reducer<V>, materialized: WindowedMaterialized<K, V> = {}): KTable<Windowed<K>, V> {
    const step: AggregateStep<K, V, V> = (_k, v, agg) => (agg === undefined ? v : reducer(agg, v));
    return this.build<V>(() => undefined, step, (k, a, b) => (a === undefined ? b : step(k, b, a)), { valueSerde: this.grouped.valueSerde, ...materialized }, 'REDUCE');
  }

  aggregate<VA>(initializer: Initializer<VA>, aggregator: Aggregator<K, V, VA>, merger: Merger<K, VA>, materialized: WindowedMaterialized<K, VA> = {}): KTable<Windowed<K>, VA> {
    return this.build<VA>(
      initializer,
      (k, v, agg) => aggregator(k, v, agg === undefined ? initializer() : agg),
      (k, a, b) => merger(k, a === undefined ? initializer() : a, b),
      materialized, 'AGGREGATE',
    );
  }

  private build<VA>(
    initial: () => VA | undefined, step: AggregateStep<K, V, VA>, merge: (key: K, a: VA | undefined, b: VA) => VA,
    materialized: WindowedMaterialized<K, VA>, op: string,
  ): KTable<Windowed<K>, VA> {
    const b = this.grouped.stream.builder;
    const t = b.topology;
    const { inactivityGapMs: gap, graceMs } = this.windows;
    const prefix = `KSTREAM-SESSION-WINDOW-${op}`;
    const storeName = materialized.storeName ?? b.name(`${prefix}-STATE-STORE`);
    const name = b.name(prefix);
    const retentionMs = materialized.retentionMs ?? gap + graceMs;
    if (retentionMs < gap + graceMs) throw new TopologyError(`retention ${retentionMs} ms of ${storeName} is shorter than gap + grace, ${gap + graceMs} ms`);
    t.addProcessor<K, V, Windowed<K>, Change<VA>>(name, (): Processor<K, V, Windowed<K>, Change<VA>> => {
      let ctx: ProcessorContext<Windowed<K>, Change<VA>>;
      let store: SessionStore<K, VA>;
      return {
        init(c) { ctx = c; store = c.getStateStore(storeName); },
        process(r) {
          if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) return;
          const ts = r.timestamp;
          const closeTime = ctx.currentStreamTime() - graceMs - gap;
          const merged = store.findSessions(r.key, ts - gap, ts + gap);
          let start = ts;
          let end = ts;
          let agg = initial();
          for (const s of merged) {
            agg = merge(r.key, agg, s.value);
            start = Math.min(start, s.key.window.start);
            end = Math.max(end, s.key.window.end);
          }
          if (end < closeTime) { recordLateDrop(t, name); return; }
          if (start !== ts || end !== ts) {
            for (const s of merged) {
              store.remove(s.key);
              ctx.forward({ key: s.key, value: { newValue: null, oldValue: s.value }, timestamp: s.key.window.end, headers: r.headers });
            }
          }
          const next = step(r.key, r.value, agg);
          const session = windowed(r.key, start, end);
          store.put(session, next);
          ctx.forward({ key: session, value: { newValue: next, oldValue: null }, timestamp: end, headers: r.headers });
        },
      };
    }, this.grouped.stream.node);
    const keySerde = materialized.keySerde ?? this.grouped.keySerde;
    t.addStateStore(sessionStore<K, VA>(storeName, {
      keyCodec: codecOf(keySerde), valueCodec: codecOf(materialized.valueSerde),
      retentionMs, persistent: materialized.persistent, logging: materialized.logging,
    }), name);
    // A session [s, e] can still be updated while stream time ≤ e + gap + grace.
    registerWindowedNode(t, name, gap + graceMs + 1);
    return new KTable<Windowed<K>, VA>(b, name, storeName, WindowedSerdes.sessionWindowed<K>(keySerde), materialized.valueSerde);
  }
}
