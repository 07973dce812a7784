/**
 * KStream: an unbounded stream of records. Operators add nodes to the builder's topology;
 * key and value types flow from the source serdes through every operator. An operator that may
 * change the key marks the stream, and the next grouping or join repartitions it first, as in
 * Kafka Streams.
 */
import type { ProcessorSupplier } from '../processor.ts';
import type { StreamRecord } from '../record.ts';
import type { Serde } from '../serde.ts';
import { TopologyError } from '../errors.ts';
import { repartitionName } from '../topology.ts';
import type { StreamsBuilder } from './builder.ts';
import type { GlobalKTable } from './global-table.ts';
import { KGroupedStream } from './grouped-stream.ts';
import type { KTable } from './ktable.ts';
import type { Grouped, Materialized, Named, Produced, Repartitioned } from './options.ts';
import { statelessProcessor, toChangeProcessor } from './processors.ts';
import { streamTableJoin, streamGlobalTableJoin } from './stream-table-join.ts';
import { streamStreamJoin, type StreamJoined, type StreamJoiner } from './stream-stream-join.ts';
import type { JoinWindows } from './windows.ts';

export type KeyValuePair<K, V> = readonly [K, V];

export class KStream<K, V> {
  constructor(
    readonly builder: StreamsBuilder,
    /** The node whose output this stream is. */
    readonly node: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** The key may differ from the partitioning key: group and join must repartition first. */
    readonly repartitionRequired: boolean,
  ) {}

  filter(predicate: (key: K, value: V) => boolean, named: Named = {}): KStream<K, V> {
    return this.stateless<K, V>('KSTREAM-FILTER', named, (r, fwd) => { if (predicate(r.key, r.value)) fwd(r); }, this.keySerde, this.valueSerde, this.repartitionRequired);
  }

  filterNot(predicate: (key: K, value: V) => boolean, named: Named = {}): KStream<K, V> {
    return this.filter((k, v) => !predicate(k, v), { name: named.name ?? this.builder.name('KSTREAM-FILTERNOT') });
  }

  map<K2, V2>(mapper: (key: K, value: V) => KeyValuePair<K2, V2>, named: Named = {}): KStream<K2, V2> {
    return this.stateless<K2, V2>('KSTREAM-MAP', named, (r, fwd) => {
      const [key, value] = mapper(r.key, r.value);
      fwd({ ...r, key, value });
    }, undefined, undefined, true);
  }

  mapValues<V2>(mapper: (value: V, key: K) => V2, named: Named = {}): KStream<K, V2> {
    return this.stateless<K, V2>('KSTREAM-MAPVALUES', named, (r, fwd) => fwd({ ...r, value: mapper(r.value, r.key) }), this.keySerde, undefined, this.repartitionRequired);
  }

  flatMap<K2, V2>(mapper: (key: K, value: V) => Iterable<KeyValuePair<K2, V2>>, named: Named = {}): KStream<K2, V2> {
    return this.stateless<K2, V2>('KSTREAM-FLATMAP', named, (r, fwd) => {
      for (const [key, value] of mapper(r.key, r.value)) fwd({ ...r, key, value });
    }, undefined, undefined, true);
  }

  flatMapValues<V2>(mapper: (value: V, key: K) => Iterable<V2>, named: Named = {}): KStream<K, V2> {
    return this.stateless<K, V2>('KSTREAM-FLATMAPVALUES', named, (r, fwd) => {
      for (const value of mapper(r.value, r.key)) fwd({ ...r, value });
    }, this.keySerde, undefined, this.repartitionRequired);
  }

  selectKey<K2>(selector: (key: K, value: V) => K2, named: Named = {}): KStream<K2, V> {
    return this.stateless<K2, V>('KSTREAM-KEY-SELECT', named, (r, fwd) => fwd({ ...r, key: selector(r.key, r.value) }), undefined, this.valueSerde, true);
  }

  peek(action: (key: K, value: V) => void, named: Named = {}): KStream<K, V> {
    return this.stateless<K, V>('KSTREAM-PEEK', named, (r, fwd) => { action(r.key, r.value); fwd(r); }, this.keySerde, this.valueSerde, this.repartitionRequired);
  }

  /** Routes each record to the first branch whose predicate holds. */
  split(named: Named = {}): BranchedKStream<K, V> {
    return new BranchedKStream<K, V>(this, named.name ?? this.builder.name('KSTREAM-BRANCH'));
  }

  merge(other: KStream<K, V>, named: Named = {}): KStream<K, V> {
    const name = named.name ?? this.builder.name('KSTREAM-MERGE');
    this.builder.topology.addProcessor(name, statelessProcessor<K, V, K, V>((r, fwd) => fwd(r)), this.node, other.node);
    return new KStream<K, V>(this.builder, name, this.keySerde, this.valueSerde, this.repartitionRequired || other.repartitionRequired);
  }

  /** Writes through an internal topic keyed by the current key, so that the key decides the partition. */
  repartition(options: Repartitioned<K, V> = {}): KStream<K, V> {
    const base = options.name ?? this.builder.name('KSTREAM-REPARTITION');
    const topic = repartitionName(base);
    const keySerde = options.keySerde ?? this.keySerde;
    const valueSerde = options.valueSerde ?? this.valueSerde;
    const t = this.builder.topology;
    t.addInternalTopic({ name: topic, purpose: 'repartition', partitions: options.partitions });
    const filter = this.builder.name('KSTREAM-FILTER-NULLKEY');
    // A record without a key has no partition to go to: Kafka Streams drops it too.
    t.addProcessor(filter, statelessProcessor<K, V, K, V>((r, fwd) => { if (r.key !== null && r.key !== undefined) fwd(r); }), this.node);
    t.addSink(`${base}-sink`, topic, { keySerde, valueSerde, partitioner: options.partitioner }, filter);
    t.addSource(`${base}-source`, topic, { keySerde, valueSerde });
    return new KStream<K, V>(this.builder, `${base}-source`, keySerde, valueSerde, false);
  }

  to(topic: string, produced: Produced<K, V> = {}): void {
    const name = produced.name ?? this.builder.name('KSTREAM-SINK');
    this.builder.topology.addSink(name, topic, {
      keySerde: produced.keySerde ?? this.keySerde, valueSerde: produced.valueSerde ?? this.valueSerde, partitioner: produced.partitioner,
    }, this.node);
  }

  /** A processor of the Processor API in the middle of the DSL, connected to the named stores. */
  process<K2, V2>(supplier: ProcessorSupplier<K, V, K2, V2>, options: Named & { stores?: readonly string[] } = {}): KStream<K2, V2> {
    const name = options.name ?? this.builder.name('KSTREAM-PROCESSOR');
    this.builder.topology.addProcessor(name, supplier, this.node);
    if (options.stores?.length) this.builder.topology.connectProcessorAndStateStores(name, ...options.stores);
    return new KStream<K2, V2>(this.builder, name, undefined, undefined, true);
  }

  groupByKey(grouped: Grouped<K, V> = {}): KGroupedStream<K, V> {
    const source = this.repartitionRequired ? this.repartition({ ...grouped, name: grouped.name }) : this;
    return new KGroupedStream<K, V>(source, grouped.keySerde ?? this.keySerde, grouped.valueSerde ?? this.valueSerde);
  }

  groupBy<K2>(selector: (key: K, value: V) => K2, grouped: Grouped<K2, V> = {}): KGroupedStream<K2, V> {
    const keyed = this.selectKey(selector);
    const source = keyed.repartition({ keySerde: grouped.keySerde, valueSerde: grouped.valueSerde ?? this.valueSerde, name: grouped.name });
    return new KGroupedStream<K2, V>(source, grouped.keySerde, grouped.valueSerde ?? this.valueSerde);
  }

  /** Each record updates the table: the latest value per key; a null value deletes it. */
  toTable(materialized: Materialized<K, V> = {}): KTable<K, V> {
    const source = this.repartitionRequired ? this.repartition() : this;
    const changes = this.builder.name('KSTREAM-TOTABLE');
    this.builder.topology.addProcessor(changes, toChangeProcessor<K, V>(), source.node);
    return this.builder.materialize<K, V>(changes, { keySerde: this.keySerde, valueSerde: this.valueSerde, ...materialized });
  }

  /** Stream–stream inner join: records of both streams whose times are within the join window. */
  join<VO, VR>(other: KStream<K, VO>, joiner: (value: V, otherValue: VO, key: K) => VR, windows: JoinWindows, joined?: StreamJoined<K, V, VO>): KStream<K, VR>;
  /** Stream–table inner join: each stream record looks up the table's current value for its key. */
  join<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT, key: K) => VR, named?: Named): KStream<K, VR>;
  join<VO, VR>(other: KStream<K, VO> | KTable<K, VO>, joiner: (value: V, otherValue: VO, key: K) => VR, third?: JoinWindows | Named, joined?: StreamJoined<K, V, VO>): KStream<K, VR> {
    if (other instanceof KStream) return streamStreamJoin(this, other, joiner as StreamJoiner<K, V, VO, VR>, third as JoinWindows, 'inner', joined);
    return streamTableJoin(this.copartitioned(), other, joiner, false, (third ?? {}) as Named);
  }

  /** Stream–stream left join: a record without partner joins null once its window has closed. */
  leftJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V, otherValue: VO | null, key: K) => VR, windows: JoinWindows, joined?: StreamJoined<K, V, VO>): KStream<K, VR>;
  /** Stream–table left join: the table value is null when the key has none. */
  leftJoin<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT | null, key: K) => VR, named?: Named): KStream<K, VR>;
  leftJoin<VO, VR>(other: KStream<K, VO> | KTable<K, VO>, joiner: (value: V, otherValue: VO | null, key: K) => VR, third?: JoinWindows | Named, joined?: StreamJoined<K, V, VO>): KStream<K, VR> {
    if (other instanceof KStream) return streamStreamJoin(this, other, joiner as StreamJoiner<K, V, VO, VR>, third as JoinWindows, 'left', joined);
    return streamTableJoin(this.copartitioned(), other, joiner as (v: V, t: VO, k: K) => VR, true, (third ?? {}) as Named);
  }

  /** Stream–stream outer join: a record of either side without partner joins null once its window has closed. */
  outerJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V | null, otherValue: VO | null, key: K) => VR, windows: JoinWindows, joined?: StreamJoined<K, V, VO>): KStream<K, VR> {
    return streamStreamJoin(this, other, joiner, windows, 'outer', joined);
  }

  /** Stream–global-table join on a key chosen from each record; needs no co-partitioning. */
  joinGlobal<GK, GV, VR>(table: GlobalKTable<GK, GV>, keySelector: (key: K, value: V) => GK, joiner: (value: V, tableValue: GV, key: K) => VR, named: Named = {}): KStream<K, VR> {
    return streamGlobalTableJoin(this, table, keySelector, joiner, false, named);
  }

  leftJoinGlobal<GK, GV, VR>(table: GlobalKTable<GK, GV>, keySelector: (key: K, value: V) => GK, joiner: (value: V, tableValue: GV | null, key: K) => VR, named: Named = {}): KStream<K, VR> {
    return streamGlobalTableJoin(this, table, keySelector, joiner as (v: V, t: GV, k: K) => VR, true, named);
  }

  /** This stream, repartitioned if its key was changed, so that it can be joined by key. */
  copartitioned(): KStream<K, V> {
    return this.repartitionRequired ? this.repartition() : this;
  }

  stateless<K2, V2>(
    prefix: string, named: Named,
    fn: (r: StreamRecord<K, V>, forward: (r: StreamRecord<K2, V2>) => void) => void,
    keySerde: Serde<K2> | undefined, valueSerde: Serde<V2> | undefined, repartitionRequired: boolean,
  ): KStream<K2, V2> {
    const name = named.name ?? this.builder.name(prefix);
    this.builder.topology.addProcessor(name, statelessProcessor<K, V, K2, V2>(fn), this.node);
    return new KStream<K2, V2>(this.builder, name, keySerde, valueSerde, repartitionRequired);
  }
}

/** `split()`'s result: branches in order, then a default branch or none. */
export class BranchedKStream<K, V> {
  private readonly branches: { predicate: (key: K, value: V) => boolean; node: string; name: string }[] = [];
  private built = false;

  constructor(private readonly stream: KStream<K, V>, private readonly prefix: string) {}

  branch(predicate: (key: K, value: V) => boolean, name?: string): this {
    if (this.built) throw new TopologyError(`split ${this.prefix} is already finished`);
    const label = name ?? String(this.branches.length + 1);
    this.branches.push({ predicate, name: label, node: `${this.prefix}${label}` });
    return this;
  }

  /** Finishes the split; records that match no branch go to the `default` branch. */
  defaultBranch(name = '0'): Map<string, KStream<K, V>> {
    return this.finish(name);
  }

  /** Finishes the split; records that match no branch are dropped. */
  noDefaultBranch(): Map<string, KStream<K, V>> {
    return this.finish(undefined);
  }

  private finish(defaultName: string | undefined): Map<string, KStream<K, V>> {
    this.built = true;
    const s = this.stream;
    const t = s.builder.topology;
    const branches = [...this.branches];
    const fallback = defaultName === undefined ? undefined : `${this.prefix}${defaultName}`;
    t.addProcessor<K, V, K, V>(this.prefix, () => {
      let ctx: Parameters<NonNullable<ReturnType<ProcessorSupplier<K, V, K, V>>['init']>>[0];
      return {
        init(c) { ctx = c; },
        process(r) {
          const hit = branches.find((b) => b.predicate(r.key, r.value));
          const target = hit?.node ?? fallback;
          if (target) ctx.forward(r, target);
        },
      };
    }, s.node);
    const out = new Map<string, KStream<K, V>>();
    const all = [...branches.map((b) => ({ node: b.node, name: b.name })), ...(fallback ? [{ node: fallback, name: defaultName! }] : [])];
    for (const b of all) {
      t.addProcessor(b.node, statelessProcessor<K, V, K, V>((r, fwd) => fwd(r)), this.prefix);
      out.set(b.node, new KStream<K, V>(s.builder, b.node, s.keySerde, s.valueSerde, s.repartitionRequired));
    }
    return out;
  }
}
