/**
 * Stream–table joins. Only the stream side triggers: each stream record looks up the table's
 * value for its key at that moment (Kafka Streams' KStream-KTable join semantics). A stream record
 * with a null key or value is dropped; in an inner join, so is one whose key the table lacks.
 */
import { TopologyError } from '../errors.ts';
import type { KeyValueStore } from '../stores/store.ts';
import type { GlobalKTable } from './global-table.ts';
import { KStream } from './kstream.ts';
import type { KTable } from './ktable.ts';
import type { Named } from './options.ts';
import { internals } from '../internals.ts';

export function streamTableJoin<K, V, VT, VR>(
  stream: KStream<K, V>, table: KTable<K, VT>, joiner: (value: V, tableValue: VT, key: K) => VR, left: boolean, named: Named,
): KStream<K, VR> {
  const b = stream.builder;
  if (table.builder !== b) throw new TopologyError('cannot join a table of another StreamsBuilder');
  const name = named.name ?? b.name(left ? 'KSTREAM-LEFTJOIN' : 'KSTREAM-JOIN');
  const storeName = table.storeName;
  b.topology.addProcessor<K, V, K, VR>(name, () => {
    let store: KeyValueStore<K, VT>;
    let forward: (r: import('../record.ts').StreamRecord<K, VR>) => void;
    return {
      init(c) { store = c.getStateStore(storeName); forward = (r) => c.forward(r); },
      process(r) {
        if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) return;
        const tv = store.get(r.key);
        if (tv === undefined && !left) return;
        forward({ ...r, value: joiner(r.value, (tv ?? null) as VT, r.key) });
      },
    };
  }, stream.node);
  b.topology.connectProcessorAndStateStores(name, storeName);
  b.topology.copartition([...sourceTopicsOf(b.topology, stream.node), ...sourceTopicsOf(b.topology, table.node)]);
  return new KStream<K, VR>(b, name, stream.keySerde, undefined, false);
}

export function streamGlobalTableJoin<K, V, GK, GV, VR>(
  stream: KStream<K, V>, table: GlobalKTable<GK, GV>, keySelector: (key: K, value: V) => GK,
  joiner: (value: V, tableValue: GV, key: K) => VR, left: boolean, named: Named,
): KStream<K, VR> {
  const b = stream.builder;
  const name = named.name ?? b.name(left ? 'KSTREAM-LEFTJOIN-GLOBAL' : 'KSTREAM-JOIN-GLOBAL');
  b.topology.addProcessor<K, V, K, VR>(name, () => {
    let store: KeyValueStore<GK, GV>;
    let forward: (r: import('../record.ts').StreamRecord<K, VR>) => void;
    return {
      init(c) { store = c.getStateStore(table.storeName); forward = (r) => c.forward(r); },
      process(r) {
        if (r.value === null || r.value === undefined) return;
        const gk = keySelector(r.key, r.value);
        const tv = gk === null || gk === undefined ? undefined : store.get(gk);
        if (tv === undefined && !left) return;
        forward({ ...r, value: joiner(r.value, (tv ?? null) as GV, r.key) });
      },
    };
  }, stream.node);
  b.topology.connectProcessorAndStateStores(name, table.storeName);
  return new KStream<K, VR>(b, name, stream.keySerde, undefined, stream.repartitionRequired);
}

/** The topics read by the sources upstream of a node within its sub-topology. */
export function sourceTopicsOf(topology: import('../topology.ts').Topology, node: string): string[] {
  const seen = new Set<string>();
  const topics: string[] = [];
  const walk = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    const def = internals(topology).nodes.get(n);
    if (!def) return;
    if (def.kind === 'source') { topics.push(...def.topics); return; }
    for (const p of def.parents) walk(p);
  };
  walk(node);
  return topics;
}
