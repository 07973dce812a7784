import test from 'ava';
import { TEAM_SPECS } from '../../processors/embedded.ts';
import { registryContracts } from '../../processors/common/contracts.ts';
import { registryFromEnv } from '../../schemas/index.ts';
// @ts-expect-error the page's plain ES module, no types
import { graphOf, layout, ratesOf } from './topology-map.js';

type Vertex = { id: string; kind: string; label: string; sub?: number };
type Graph = { vertices: Map<string, Vertex>; edges: { from: string; to: string }[] };

const contracts = registryContracts(registryFromEnv({}).client, '');
const graphs = TEAM_SPECS.map((spec) => [spec.name, graphOf(JSON.parse(JSON.stringify(spec.topology(contracts, {}).describe()))) as Graph] as const);

test('every processor\'s map places each topic, node and store once, on a cell of its own, despite the saga\'s loops', (t) => {
  for (const [name, graph] of graphs) {
    const position = layout(graph) as Map<string, { col: number; row: number }>;
    t.is(position.size, graph.vertices.size, name);
    const cells = new Set([...position.values()].map((p) => `${p.col}:${p.row}`));
    t.is(cells.size, position.size, `${name}: no two vertices on one cell`);
    // Most edges run left to right; only the loops' back edges may not.
    const forward = graph.edges.filter((e) => position.get(e.to)!.col > position.get(e.from)!.col).length;
    t.true(forward / graph.edges.length > 0.8, `${name}: ${forward}/${graph.edges.length} edges forward`);
  }
});

test('a node\'s own rate wins over its sub-topology\'s; sinks show records out; a topic sums its readers', (t) => {
  const [, graph] = graphs.find(([n]) => n === 'payment')!;
  const source = [...graph.vertices.values()].find((v) => v.kind === 'source')!;
  const sink = [...graph.vertices.values()].find((v) => v.kind === 'sink' && v.sub === source.sub)!;
  const mine = 'orders.app-payment';
  const rates = ratesOf(graph, {
    subtopology: [{ metric: { application: mine, subtopology: String(source.sub) }, value: 2 }, { metric: { application: 'stock-processor', subtopology: String(source.sub) }, value: 99 }],
    produced: [{ metric: { application: mine, subtopology: String(source.sub) }, value: 3 }],
    node: [{ metric: { application: mine, processor_node_id: source.label }, value: 5 }],
  }, (app: string) => app.endsWith('payment')) as Map<string, number>;
  t.is(rates.get(source.id), 5, 'per-node rate');
  t.is(rates.get(sink.id), 3, 'sink: the sub-topology\'s records out');
  const topic = graph.edges.find((e) => e.to === source.id)!.from;
  t.is(rates.get(topic), 5, 'the topic feeding it');
});
