/**
 * KTable: a changelog stream seen as a table — the latest value per key. Operators pass
 * `Change`s (new and old value) so that aggregates downstream can subtract what was replaced.
 * Every table in the DSL is materialized in a store with a changelog (see README: Kafka Streams
 * avoids materializing some; we trade that memory for one simple, restorable shape).
 */
import type { ProcessorContext, ProcessorSupplier } from '../processor.ts';
import type { Change, StreamRecord } from '../record.ts';
import type { Serde } from '../serde.ts';
import { TopologyError } from '../errors.ts';
import type { KeyValueStore } from '../stores/store.ts';
import type { StreamsBuilder } from './builder.ts';
import { KGroupedTable } from './grouped-table.ts';
import { KStream, type KeyValuePair } from './kstream.ts';
import type { Grouped, Materialized, Named } from './options.ts';
import { statelessProcessor } from './processors.ts';
import { sourceTopicsOf } from './stream-table-join.ts';
import { changeSerde } from './change-serde.ts';
import { repartitionName } from '../topology.ts';
import { suppressTable, type Suppressed } from './suppress.ts';
import { foreignKeyJoin, type ForeignKeyJoiner } from './foreign-key-join.ts';

export type JoinKind = 'inner' | 'left' | 'outer';

/** The implementation signature of overloaded joins: the overloads carry the types. */
type AnyFunction = (...args: never[]) => unknown;

export class KTable<K, V> {
  constructor(
    readonly builder: StreamsBuilder,
    /** The node that forwards this table's changes. */
    readonly node: string,
    /** The store holding the table, for joins and interactive queries. */
    readonly storeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
  ) {}

  get queryableStoreName(): string {
    return this.storeName;
  }

  filter(predicate: (key: K, value: V) => boolean, materialized: Materialized<K, V> = {}): KTable<K, V> {
    const keep = (k: K, v: V | null) => (v !== null && predicate(k, v) ? v : null);
    return this.mapChanges<V>('KTABLE-FILTER', (k, c) => ({ newValue: keep(k, c.newValue), oldValue: keep(k, c.oldValue) }), { valueSerde: this.valueSerde, ...materialized });
  }

  filterNot(predicate: (key: K, value: V) => boolean, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.filter((k, v) => !predicate(k, v), materialized);
  }

  mapValues<V2>(mapper: (value: V, key: K) => V2, materialized: Materialized<K, V2> = {}): KTable<K, V2> {
    const map = (k: K, v: V | null) => (v === null ? null : mapper(v, k));
    return this.mapChanges<V2>('KTABLE-MAPVALUES', (k, c) => ({ newValue: map(k, c.newValue), oldValue: map(k, c.oldValue) }), materialized);
  }

  /** The table's updates as a stream; a deletion is a record with a null value (tombstone). */
  toStream(named: Named = {}): KStream<K, V | null> {
    const name = named.name ?? this.builder.name('KTABLE-TOSTREAM');
    this.builder.topology.addProcessor(name, statelessProcessor<K, Change<V>, K, V | null>((r, fwd) => fwd({ ...r, value: r.value.newValue })), this.node);
    return new KStream<K, V | null>(this.builder, name, this.keySerde, this.valueSerde as Serde<V | null> | undefined, false);
  }

  /** Foreign-key inner join: each row joins the other table's row whose key its value names (foreign-key-join.ts). */
  join<KO, VO, VR>(other: KTable<KO, VO>, foreignKey: (value: V) => KO | null | undefined, joiner: (value: V, otherValue: VO, key: K) => VR, materialized?: Materialized<K, VR>): KTable<K, VR>;
  join<VO, VR>(other: KTable<K, VO>, joiner: (value: V, otherValue: VO, key: K) => VR, materialized?: Materialized<K, VR>): KTable<K, VR>;
  join<VO, VR>(other: object, a: AnyFunction, b?: Materialized<K, VR> | AnyFunction, c: Materialized<K, VR> = {}): KTable<K, VR> {
    if (typeof b === 'function') return foreignKeyJoin(this, other as KTable<unknown, VO>, a as (value: V) => unknown, b as ForeignKeyJoiner<K, V, VO | null, VR>, false, c);
    return this.tableJoin(other as KTable<K, VO>, 'inner', a as (v: V | null, o: VO | null, k: K) => VR, b ?? {});
  }

  /** Foreign-key left join: a row whose foreign key has no row joins null. */
  leftJoin<KO, VO, VR>(other: KTable<KO, VO>, foreignKey: (value: V) => KO | null | undefined, joiner: (value: V, otherValue: VO | null, key: K) => VR, materialized?: Materialized<K, VR>): KTable<K, VR>;
  leftJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V, otherValue: VO | null, key: K) => VR, materialized?: Materialized<K, VR>): KTable<K, VR>;
  leftJoin<VO, VR>(other: object, a: AnyFunction, b?: Materialized<K, VR> | AnyFunction, c: Materialized<K, VR> = {}): KTable<K, VR> {
    if (typeof b === 'function') return foreignKeyJoin(this, other as KTable<unknown, VO>, a as (value: V) => unknown, b as ForeignKeyJoiner<K, V, VO | null, VR>, true, c);
    return this.tableJoin(other as KTable<K, VO>, 'left', a as (v: V | null, o: VO | null, k: K) => VR, b ?? {});
  }

  outerJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V | null, otherValue: VO | null, key: K) => VR, materialized: Materialized<K, VR> = {}): KTable<K, VR> {
    return this.tableJoin(other, 'outer', joiner, materialized);
  }

  /** Holds updates back: final results per window, or the latest per key after a time limit (suppress.ts). */
  suppress(suppressed: Suppressed, named: Named = {}): KTable<K, V> {
    return suppressTable(this, suppressed, named);
  }

  /** Re-keys the table for an aggregation: each update subtracts the old row's group and adds the new one's. */
  groupBy<K2, V2>(selector: (key: K, value: V) => KeyValuePair<K2, V2>, grouped: Grouped<K2, V2> = {}): KGroupedTable<K2, V2> {
    const b = this.builder;
    const t = b.topology;
    const select = b.name('KTABLE-SELECT');
    t.addProcessor(select, statelessProcessor<K, Change<V>, K2, Change<V2>>((r, fwd) => {
      if (r.value.oldValue !== null) {
        const [k, v] = selector(r.key, r.value.oldValue);
        fwd({ ...r, key: k, value: { newValue: null, oldValue: v } });
      }
      if (r.value.newValue !== null) {
        const [k, v] = selector(r.key, r.value.newValue);
        fwd({ ...r, key: k, value: { newValue: v, oldValue: null } });
      }
    }), this.node);
    const base = grouped.name ?? b.name('KTABLE-REPARTITION');
    const topic = repartitionName(base);
    const valueSerde = changeSerde<V2>(grouped.valueSerde);
    t.addInternalTopic({ name: topic, purpose: 'repartition' });
    t.addSink(`${base}-sink`, topic, { keySerde: grouped.keySerde, valueSerde }, select);
    t.addSource(`${base}-source`, topic, { keySerde: grouped.keySerde, valueSerde });
    return new KGroupedTable<K2, V2>(b, `${base}-source`, grouped.keySerde, grouped.valueSerde);
  }

  /** A new table from a function of each change, materialized. */
  mapChanges<V2>(prefix: string, fn: (key: K, change: Change<V>) => Change<V2>, materialized: Materialized<K, V2>): KTable<K, V2> {
    const name = this.builder.name(prefix);
    this.builder.topology.addProcessor(name, statelessProcessor<K, Change<V>, K, Change<V2>>((r, fwd) => {
      const c = fn(r.key, r.value);
      if (c.newValue !== null || c.oldValue !== null) fwd({ ...r, value: c });
    }), this.node);
    return this.builder.materialize<K, V2>(name, { keySerde: this.keySerde, ...materialized });
  }

  private tableJoin<VO, VR>(other: KTable<K, VO>, kind: JoinKind, joiner: (v: V | null, o: VO | null, k: K) => VR, materialized: Materialized<K, VR>): KTable<K, VR> {
    const b = this.builder;
    if (other.builder !== b) throw new TopologyError('cannot join a table of another StreamsBuilder');
    const compute = (k: K, l: V | null, r: VO | null): VR | null => {
      if (kind === 'inner' && (l === null || r === null)) return null;
      if (kind === 'left' && l === null) return null;
      if (l === null && r === null) return null;
      return joiner(l, r, k);
    };
    const prefix = kind === 'inner' ? 'KTABLE-JOIN' : kind === 'left' ? 'KTABLE-LEFTJOIN' : 'KTABLE-OUTERJOIN';
    const leftName = b.name(`${prefix}-THIS`);
    const rightName = b.name(`${prefix}-OTHER`);
    const side = <VS, VX>(otherStore: string, fn: (k: K, mine: VS | null, theirs: VX | null) => VR | null): ProcessorSupplier<K, Change<VS>, K, Change<VR>> => () => {
      let ctx: ProcessorContext<K, Change<VR>>;
      let store: KeyValueStore<K, VX>;
      return {
        init(c) { ctx = c; store = c.getStateStore(otherStore); },
        process(r: StreamRecord<K, Change<VS>>) {
          const theirs = store.get(r.key) ?? null;
          const newValue = fn(r.key, r.value.newValue, theirs);
          const oldValue = fn(r.key, r.value.oldValue, theirs);
          if (newValue !== null || oldValue !== null) ctx.forward({ ...r, value: { newValue, oldValue } });
        },
      };
    };
    const t = b.topology;
    t.addProcessor(leftName, side<V, VO>(other.storeName, (k, l, r) => compute(k, l, r)), this.node);
    t.addProcessor(rightName, side<VO, V>(this.storeName, (k, r, l) => compute(k, l, r)), other.node);
    t.connectProcessorAndStateStores(leftName, other.storeName);
    t.connectProcessorAndStateStores(rightName, this.storeName);
    t.copartition([...sourceTopicsOf(t, this.node), ...sourceTopicsOf(t, other.node)]);
    const merge = b.name(`${prefix}-MERGE`);
    t.addProcessor(merge, statelessProcessor<K, Change<VR>, K, Change<VR>>((r, fwd) => fwd(r)), leftName, rightName);
    return b.materialize<K, VR>(merge, { keySerde: this.keySerde, ...materialized });
  }
}
