/**
 * A read-only description of a topology, as Kafka Streams' `TopologyDescription`: the
 * sub-topologies with their nodes and edges, the global stores and the internal topics. It holds
 * names only (no suppliers or serdes), so it can be compared, logged or serialized as JSON;
 * `toString()` prints Kafka's layout and `toMermaid()` draws it.
 */
import type { InternalTopic, ProcessorNode, SourceNode, Topology, TopologyNode } from './topology.ts';
import { internals } from './internals.ts';

export interface SourceDescription {
  readonly kind: 'source';
  readonly name: string;
  readonly topics: readonly string[];
  readonly successors: readonly string[];
}

export interface ProcessorDescription {
  readonly kind: 'processor';
  readonly name: string;
  readonly stores: readonly string[];
  readonly predecessors: readonly string[];
  readonly successors: readonly string[];
}

export interface SinkDescription {
  readonly kind: 'sink';
  readonly name: string;
  readonly topic: string;
  readonly predecessors: readonly string[];
}

export type NodeDescription = SourceDescription | ProcessorDescription | SinkDescription;

export interface SubtopologyDescription {
  readonly id: number;
  /** In Kafka Streams' order: larger downstream graph first, then by name. */
  readonly nodes: readonly NodeDescription[];
}

export interface GlobalStoreDescription {
  /** Numbered after the sub-topologies, as Kafka Streams numbers global stores among them. */
  readonly id: number;
  readonly store: string;
  readonly topic: string;
  readonly source: SourceDescription;
  readonly processor: ProcessorDescription;
}

export type InternalTopicDescription = InternalTopic;

export interface MermaidOptions {
  /** `TD` (top-down, the default) or `LR` (left to right). */
  readonly direction?: 'TD' | 'LR';
}

export class TopologyDescription {
  constructor(
    readonly subtopologies: readonly SubtopologyDescription[],
    readonly globalStores: readonly GlobalStoreDescription[],
    readonly internalTopics: readonly InternalTopicDescription[],
  ) {}

  /**
   * The state stores of the sub-topologies (each once, in sub-topology order), global stores
   * excluded (they are in `globalStores`): the names `StreamsApp.stores(name)` answers for.
   */
  stores(): string[] {
    const globals = new Set(this.globalStores.map((g) => g.store));
    const names = this.subtopologies.flatMap((s) => s.nodes.flatMap((n) => (n.kind === 'processor' ? n.stores : [])));
    return [...new Set(names)].filter((n) => !globals.has(n));
  }

  /** Kafka Streams' text, byte for byte in layout, so tools and eyes used to it read it as is. */
  toString(): string {
    // Kafka's builder writes "Topologies:\n " and then "  " before each part, so the first
    // sub-topology is indented by three spaces and the others by two; kept for fidelity.
    let out = 'Topologies:\n ';
    for (const s of this.subtopologies) {
      out += `  Sub-topology: ${s.id}\n`;
      for (const n of s.nodes) out += `    ${nodeText(n)}\n`;
      out += '\n';
    }
    for (const g of this.globalStores) {
      out += `  Sub-topology: ${g.id} for global store (will not generate tasks)\n`;
      out += `    ${nodeText(g.source)}\n    ${nodeText(g.processor)}\n`;
    }
    return out;
  }

  /**
   * A Mermaid flowchart: a subgraph per sub-topology and per global store; topics sit outside
   * every subgraph so that a repartition topic visibly joins the sub-topology writing it to the
   * one reading it. Topics are stadiums, stores cylinders (dotted link to their processors).
   */
  toMermaid(options: MermaidOptions = {}): string {
    const ids = new MermaidIds();
    const internal = new Set(this.internalTopics.map((t) => t.name));
    const lines = [`flowchart ${options.direction ?? 'TD'}`];
    const edges: string[] = [];
    const topics = new Set<string>();
    const node = (n: NodeDescription): string => `${ids.of('n', n.name)}["${label(n.name)}"]`;
    const store = (s: string): string => `${ids.of('s', s)}[("${label(s)}")]`;
    const connect = (n: NodeDescription): void => {
      const id = ids.of('n', n.name);
      if (n.kind === 'source') for (const t of n.topics) { topics.add(t); edges.push(`${ids.of('t', t)} --> ${id}`); }
      if (n.kind === 'sink') { topics.add(n.topic); edges.push(`${id} --> ${ids.of('t', n.topic)}`); }
      if (n.kind !== 'sink') for (const c of n.successors) edges.push(`${id} --> ${ids.of('n', c)}`);
      if (n.kind === 'processor') for (const s of n.stores) edges.push(`${id} -.- ${ids.of('s', s)}`);
    };

    for (const s of this.subtopologies) {
      lines.push(`  subgraph ${ids.of('sub', String(s.id))}["Sub-topology: ${s.id}"]`);
      for (const n of s.nodes) lines.push(`    ${node(n)}`);
      // A store used by several processors belongs to the sub-topology once.
      const stores = new Set(s.nodes.flatMap((n) => (n.kind === 'processor' ? n.stores : [])));
      const globals = new Set(this.globalStores.map((g) => g.store));
      for (const st of stores) if (!globals.has(st)) lines.push(`    ${store(st)}`);
      lines.push('  end');
      for (const n of s.nodes) connect(n);
    }
    for (const g of this.globalStores) {
      lines.push(`  subgraph ${ids.of('global', g.store)}["Global store: ${label(g.store)}"]`);
      lines.push(`    ${node(g.source)}`, `    ${node(g.processor)}`, `    ${store(g.store)}`, '  end');
      connect(g.source);
      connect(g.processor);
    }
    // Edges come last: Mermaid puts a node in the subgraph where it first appears, and an edge
    // inside a subgraph block would pull a topic into it.
    for (const t of topics) lines.push(`  ${ids.of('t', t)}(["${label(t)}"])`);
    lines.push(...edges.map((e) => `  ${e}`));
    lines.push(
      '  classDef topic fill:#fff5d6,stroke:#b08900',
      '  classDef internal fill:#fff5d6,stroke:#b08900,stroke-dasharray:4 3',
      '  classDef store fill:#e3f0ff,stroke:#3b6ea5',
    );
    const external = [...topics].filter((t) => !internal.has(t));
    const internalUsed = [...topics].filter((t) => internal.has(t));
    if (external.length) lines.push(`  class ${external.map((t) => ids.of('t', t)).join(',')} topic`);
    if (internalUsed.length) lines.push(`  class ${internalUsed.map((t) => ids.of('t', t)).join(',')} internal`);
    const allStores = ids.all('s');
    if (allStores.length) lines.push(`  class ${allStores.join(',')} store`);
    return `${lines.join('\n')}\n`;
  }
}

export function describeTopology(topology: Topology): TopologyDescription {
  const graph = internals(topology);
  const subtopologies = topology.subtopologies().map((s): SubtopologyDescription => {
    const members = new Set(s.nodes);
    const size = subtreeSizes(topology, s.nodes);
    const order = (names: readonly string[]): string[] => [...names].sort((a, b) => compareNodes(a, b, size));
    const nodes = order(s.nodes).map((name) => describeNode(graph.nodes.get(name)!, order, members));
    return { id: s.id, nodes };
  });
  const globalStores = [...graph.globalStores.values()].map((g, i): GlobalStoreDescription => ({
    id: subtopologies.length + i,
    store: g.store.name,
    topic: g.source.topics[0]!,
    source: describeSource(g.source, (names) => [...names]),
    processor: describeProcessor(g.processor, (names) => [...names]),
  }));
  return new TopologyDescription(subtopologies, globalStores, [...graph.internalTopics.values()].map((t) => ({ ...t })));
}

function describeNode(node: TopologyNode, order: (names: readonly string[]) => string[], members: ReadonlySet<string>): NodeDescription {
  // Parents always share the sub-topology (they are unioned), but filter anyway so the
  // description never names a node it does not list.
  const inside = (names: readonly string[]) => order(names.filter((n) => members.has(n)));
  switch (node.kind) {
    case 'source': return describeSource(node, inside);
    case 'processor': return describeProcessor(node, inside);
    case 'sink': return { kind: 'sink', name: node.name, topic: node.topic, predecessors: inside(node.parents) };
  }
}

function describeSource(node: SourceNode, order: (names: readonly string[]) => string[]): SourceDescription {
  return { kind: 'source', name: node.name, topics: [...node.topics], successors: order(node.children) };
}

function describeProcessor(node: ProcessorNode, order: (names: readonly string[]) => string[]): ProcessorDescription {
  return {
    kind: 'processor', name: node.name, stores: [...node.stores].sort(),
    predecessors: order(node.parents), successors: order(node.children),
  };
}

/**
 * Kafka Streams orders nodes by the size of the graph below them (counting every path, as its
 * incremental count does) and then by name: sources come first and long chains before short ones.
 */
function subtreeSizes(topology: Topology, names: readonly string[]): Map<string, number> {
  const size = new Map<string, number>();
  const { nodes } = internals(topology);
  const visit = (name: string): number => {
    const known = size.get(name);
    if (known !== undefined) return known;
    const node = nodes.get(name);
    // The graph is acyclic (a parent must exist before its child), so the recursion ends.
    const n = 1 + (node && node.kind !== 'sink' ? node.children.reduce((sum, c) => sum + visit(c), 0) : 0);
    size.set(name, n);
    return n;
  };
  for (const n of names) visit(n);
  return size;
}

function compareNodes(a: string, b: string, size: ReadonlyMap<string, number>): number {
  const d = (size.get(b) ?? 1) - (size.get(a) ?? 1);
  return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
}

function nodeText(n: NodeDescription): string {
  const names = (list: readonly string[]) => (list.length === 0 ? 'none' : list.join(', '));
  switch (n.kind) {
    case 'source': return `Source: ${n.name} (topics: [${n.topics.join(', ')}])\n      --> ${names(n.successors)}`;
    case 'processor': return `Processor: ${n.name} (stores: [${n.stores.join(', ')}])\n      --> ${names(n.successors)}\n      <-- ${names(n.predecessors)}`;
    case 'sink': return `Sink: ${n.name} (topic: ${n.topic})\n      <-- ${names(n.predecessors)}`;
  }
}

/** Mermaid reads `"`, `#`, `<` and `>` in a quoted label as syntax; its entity codes are literal. */
function label(text: string): string {
  return text.replace(/#/g, '#35;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

/**
 * Mermaid ids: letters, digits and `_` only, with a prefix per kind so a topic, a store and a
 * node of the same name stay three shapes (and no id is a keyword such as `end`). Names that
 * sanitize alike get a numeric suffix rather than merging into one shape.
 */
class MermaidIds {
  private readonly byKey = new Map<string, string>();
  private readonly taken = new Set<string>();

  of(kind: string, name: string): string {
    const key = `${kind}\u0000${name}`;
    const known = this.byKey.get(key);
    if (known) return known;
    const base = `${kind}_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
    let id = base;
    for (let i = 2; this.taken.has(id); i++) id = `${base}_${i}`;
    this.taken.add(id);
    this.byKey.set(key, id);
    return id;
  }

  all(kind: string): string[] {
    return [...this.byKey].filter(([k]) => k.startsWith(`${kind}\u0000`)).map(([, id]) => id);
  }
}
