/**
 * The processor graph, as Kafka Streams' `Topology`: sources, processors, sinks and the stores
 * processors use. The DSL compiles into one; the Processor API builds one by hand. The graph
 * splits into sub-topologies (connected by edges or shared stores); topics written by one and
 * read by another (repartition topics) are the boundaries.
 */
import { describeTopology, type TopologyDescription } from './describe.ts';
import { TopologyError } from './errors.ts';
import { attachGraph, internals } from './internals.ts';
import type { ProcessorSupplier } from './processor.ts';
import type { StreamRecord } from './record.ts';
import { Serdes, type Serde } from './serde.ts';
import type { StoreBuilder } from './stores/store.ts';

export type TimestampExtractor = (record: StreamRecord<unknown, unknown>, partitionTime: number) => number;

export interface SourceOptions<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly timestampExtractor?: TimestampExtractor;
}

export interface SinkOptions<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** Chooses the partition; default Kafka's murmur2 of the serialized key. */
  readonly partitioner?: (key: K, value: V, partitions: number) => number;
}

/** An internal topic is named `<applicationId>-<name>` when the application starts. */
export interface InternalTopic {
  readonly name: string;
  readonly purpose: 'repartition' | 'changelog';
  /** Fixed partition count; otherwise that of the writing sub-topology's sources. */
  readonly partitions?: number;
}

export interface SourceNode {
  readonly kind: 'source';
  readonly name: string;
  readonly topics: readonly string[];
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly timestampExtractor: TimestampExtractor | undefined;
  readonly children: string[];
}

export interface ProcessorNode {
  readonly kind: 'processor';
  readonly name: string;
  readonly supplier: ProcessorSupplier<unknown, unknown, unknown, unknown>;
  readonly stores: string[];
  readonly parents: readonly string[];
  readonly children: string[];
}

export interface SinkNode {
  readonly kind: 'sink';
  readonly name: string;
  readonly topic: string;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly partitioner: ((key: unknown, value: unknown, partitions: number) => number) | undefined;
  readonly parents: readonly string[];
}

export type TopologyNode = SourceNode | ProcessorNode | SinkNode;

/** A global store: every instance reads all partitions of its topic into a full local copy. */
export interface GlobalStoreDef {
  readonly store: StoreBuilder;
  readonly source: SourceNode;
  readonly processor: ProcessorNode;
}

export interface Subtopology {
  readonly id: number;
  /** Node names in the order they were added. */
  readonly nodes: readonly string[];
  readonly sourceTopics: readonly string[];
  readonly sinkTopics: readonly string[];
  readonly stores: readonly string[];
}

export class Topology {
  // The graph lives behind `internals(topology)` (internals.ts), for engine modules only.
  readonly #graph = attachGraph(this);
  private readonly topicToSource = new Map<string, string>();

  addSource<K, V>(name: string, topics: string | readonly string[], options: SourceOptions<K, V> = {}): this {
    this.claim(name);
    const list = typeof topics === 'string' ? [topics] : [...topics];
    if (list.length === 0) throw new TopologyError(`source ${name} reads no topic`);
    for (const t of list) {
      const owner = this.topicToSource.get(t);
      if (owner) throw new TopologyError(`topic ${t} is already read by source ${owner}; a topic has one source node (use merge)`);
      this.topicToSource.set(t, name);
    }
    this.#graph.nodes.set(name, {
      kind: 'source', name, topics: list, children: [],
      keySerde: (options.keySerde ?? Serdes.json()) as Serde<unknown>,
      valueSerde: (options.valueSerde ?? Serdes.json()) as Serde<unknown>,
      timestampExtractor: options.timestampExtractor,
    });
    return this;
  }

  addProcessor<KIn, VIn, KOut, VOut>(name: string, supplier: ProcessorSupplier<KIn, VIn, KOut, VOut>, ...parents: string[]): this {
    this.claim(name);
    this.checkParents(name, parents);
    this.#graph.nodes.set(name, {
      kind: 'processor', name, parents, children: [], stores: [],
      supplier: supplier as unknown as ProcessorSupplier<unknown, unknown, unknown, unknown>,
    });
    this.link(name, parents);
    return this;
  }

  addSink<K, V>(name: string, topic: string, options: SinkOptions<K, V> = {}, ...parents: string[]): this {
    this.claim(name);
    this.checkParents(name, parents);
    this.#graph.nodes.set(name, {
      kind: 'sink', name, topic, parents,
      keySerde: (options.keySerde ?? Serdes.json()) as Serde<unknown>,
      valueSerde: (options.valueSerde ?? Serdes.json()) as Serde<unknown>,
      partitioner: options.partitioner as SinkNode['partitioner'],
    });
    this.link(name, parents);
    return this;
  }

  addStateStore(builder: StoreBuilder, ...processorNames: string[]): this {
    if (this.#graph.stores.has(builder.name) || this.#graph.globalStores.has(builder.name)) throw new TopologyError(`store ${builder.name} is already added`);
    this.#graph.stores.set(builder.name, builder);
    if (builder.logging) this.#graph.internalTopics.set(changelogName(builder.name), { name: changelogName(builder.name), purpose: 'changelog' });
    for (const p of processorNames) this.connectProcessorAndStateStores(p, builder.name);
    return this;
  }

  connectProcessorAndStateStores(processorName: string, ...storeNames: string[]): this {
    const node = this.#graph.nodes.get(processorName);
    if (node?.kind !== 'processor') throw new TopologyError(`cannot connect stores to ${processorName}: no such processor`);
    for (const s of storeNames) {
      if (!this.#graph.stores.has(s) && !this.#graph.globalStores.has(s)) throw new TopologyError(`store ${s} is not added to the topology`);
      if (!node.stores.includes(s)) node.stores.push(s);
    }
    return this;
  }

  /**
   * A store every instance fills from all partitions of `topic`; `processor` receives each record
   * and keeps the store (it must not forward).
   */
  addGlobalStore<K, V>(
    store: StoreBuilder, sourceName: string, topic: string, options: SourceOptions<K, V>,
    processorName: string, supplier: ProcessorSupplier<K, V, never, never>,
  ): this {
    if (this.#graph.stores.has(store.name) || this.#graph.globalStores.has(store.name)) throw new TopologyError(`store ${store.name} is already added`);
    this.claim(sourceName);
    this.claim(processorName);
    const source: SourceNode = {
      kind: 'source', name: sourceName, topics: [topic], children: [processorName],
      keySerde: (options.keySerde ?? Serdes.json()) as Serde<unknown>,
      valueSerde: (options.valueSerde ?? Serdes.json()) as Serde<unknown>,
      timestampExtractor: options.timestampExtractor,
    };
    const processor: ProcessorNode = {
      kind: 'processor', name: processorName, parents: [sourceName], children: [], stores: [store.name],
      supplier: supplier as unknown as ProcessorSupplier<unknown, unknown, unknown, unknown>,
    };
    this.#graph.globalStores.set(store.name, { store, source, processor });
    return this;
  }

  /** Declares a topic written and read inside the application (named `<appId>-<name>`). */
  addInternalTopic(topic: InternalTopic): this {
    this.#graph.internalTopics.set(topic.name, topic);
    return this;
  }

  copartition(topics: readonly string[]): this {
    this.#graph.copartitionGroups.push([...topics]);
    return this;
  }

  /**
   * The groups of topics declared co-partitioned (joined inputs, which must have the same
   * partition count), as declared; a copy, so reading it cannot change the topology.
   */
  copartitionedTopics(): string[][] {
    return this.#graph.copartitionGroups.map((g) => [...g]);
  }

  /** Connected components of the graph, each with its topics and stores, in order of first node. */
  subtopologies(): Subtopology[] {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r)!;
      parent.set(x, r);
      return r;
    };
    const union = (a: string, b: string) => parent.set(find(a), find(b));
    for (const n of this.#graph.nodes.keys()) parent.set(n, n);
    const storeOwner = new Map<string, string>();
    for (const node of this.#graph.nodes.values()) {
      if (node.kind !== 'source') for (const p of node.parents) union(node.name, p);
      if (node.kind === 'processor') {
        for (const s of node.stores) {
          if (this.#graph.globalStores.has(s)) continue;
          const owner = storeOwner.get(s);
          if (owner) union(node.name, owner); else storeOwner.set(s, node.name);
        }
      }
    }
    const groups = new Map<string, string[]>();
    for (const n of this.#graph.nodes.keys()) {
      const r = find(n);
      if (!groups.has(r)) groups.set(r, []);
      groups.get(r)!.push(n);
    }
    return [...groups.values()].map((names, id) => {
      const nodes = names.map((n) => this.#graph.nodes.get(n)!);
      return {
        id, nodes: names,
        sourceTopics: nodes.flatMap((n) => (n.kind === 'source' ? n.topics : [])),
        sinkTopics: nodes.flatMap((n) => (n.kind === 'sink' ? [n.topic] : [])),
        stores: [...new Set(nodes.flatMap((n) => (n.kind === 'processor' ? n.stores.filter((s) => this.#graph.stores.has(s)) : [])))],
      };
    });
  }

  /** Sub-topologies, global stores and internal topics by name, as Kafka Streams' `describe()`. */
  describe(): TopologyDescription {
    return describeTopology(this);
  }

  /** Checks the whole graph; the runtime and test driver call it before starting. */
  validate(): void {
    for (const node of this.#graph.nodes.values()) {
      if (node.kind === 'source' && node.children.length === 0) throw new TopologyError(`source ${node.name} has no children`);
    }
    for (const [name] of this.#graph.stores) {
      const users = [...this.#graph.nodes.values()].filter((n) => n.kind === 'processor' && n.stores.includes(name));
      if (users.length === 0) throw new TopologyError(`store ${name} is connected to no processor`);
    }
  }

  private claim(name: string): void {
    if (this.#graph.nodes.has(name) || [...this.#graph.globalStores.values()].some((g) => g.source.name === name || g.processor.name === name)) {
      throw new TopologyError(`a node named ${name} already exists`);
    }
  }

  private checkParents(name: string, parents: readonly string[]): void {
    if (parents.length === 0) throw new TopologyError(`${name} needs at least one parent`);
    for (const p of parents) {
      const node = this.#graph.nodes.get(p);
      if (!node) throw new TopologyError(`parent ${p} of ${name} does not exist`);
      if (node.kind === 'sink') throw new TopologyError(`sink ${p} cannot be the parent of ${name}`);
    }
  }

  private link(child: string, parents: readonly string[]): void {
    for (const p of parents) {
      const node = this.#graph.nodes.get(p);
      if (node && node.kind !== 'sink') node.children.push(child);
    }
  }
}

export function changelogName(store: string): string {
  return `${store}-changelog`;
}

export function repartitionName(name: string): string {
  return `${name}-repartition`;
}

/** The real topic name: internal topics are prefixed with the application id. */
export function resolveTopic(topology: Topology, applicationId: string, topic: string): string {
  return internals(topology).internalTopics.has(topic) ? `${applicationId}-${topic}` : topic;
}
