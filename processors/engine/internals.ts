/**
 * The engine's view of a `Topology`: its nodes, stores, global stores, internal topics and
 * co-partition groups, as Kafka Streams keeps them in `InternalTopologyBuilder` behind the public
 * `Topology`. Only engine modules import this one (eslint forbids it elsewhere); team code reads a
 * topology through `describe()` and the Processor-API methods.
 */
import type { GlobalStoreDef, InternalTopic, Topology, TopologyNode } from './topology.ts';
import type { StoreBuilder } from './stores/store.ts';

export class TopologyGraph {
  readonly nodes = new Map<string, TopologyNode>();
  readonly stores = new Map<string, StoreBuilder>();
  readonly globalStores = new Map<string, GlobalStoreDef>();
  readonly internalTopics = new Map<string, InternalTopic>();
  /** Groups of source topics that must have the same partition count (joined inputs). */
  readonly copartitionGroups: string[][] = [];
}

// Keyed by the topology object, so the maps are reachable only through this module.
const graphs = new WeakMap<Topology, TopologyGraph>();

/** Called once by `Topology`'s constructor: the graph it builds into. */
export function attachGraph(topology: Topology): TopologyGraph {
  const graph = new TopologyGraph();
  graphs.set(topology, graph);
  return graph;
}

/** The graph behind a topology, for the runtime, the DSL and the test driver. */
export function internals(topology: Topology): TopologyGraph {
  const graph = graphs.get(topology);
  if (!graph) throw new TypeError('not a Topology built by the engine');
  return graph;
}
