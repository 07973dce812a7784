import test from 'ava';
import {
  StreamsBuilder, Topology, keyValueStore, type NodeDescription, type ProcessorDescription, type SinkDescription,
  type SourceDescription, type TopologyDescription,
} from '../index.ts';

function wordCount(): Topology {
  const b = new StreamsBuilder();
  b.stream<string, string>('text')
    .flatMapValues((line) => line.toLowerCase().split(/\W+/).filter(Boolean))
    .groupBy((_k, word) => word)
    .count({ storeName: 'counts' })
    .toStream()
    .to('word-counts');
  return b.build();
}

function node(d: TopologyDescription, name: string): NodeDescription {
  const found = d.subtopologies.flatMap((s) => s.nodes).find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name}`);
  return found;
}

const ofKind = <K extends NodeDescription['kind']>(d: TopologyDescription, id: number, kind: K) =>
  d.subtopologies[id]!.nodes.filter((n): n is Extract<NodeDescription, { kind: K }> => n.kind === kind);

/** The parts of a Mermaid flowchart the tests look at: shapes by label, edges, subgraph members. */
function parseMermaid(text: string) {
  const labels = new Map<string, string>();
  const shapes = new Map<string, string>();
  const subgraphOf = new Map<string, string>();
  const subgraphs: string[] = [];
  const edges: [string, string, string][] = [];
  let current: string | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    const sub = /^subgraph (\w+)\["(.*)"\]$/.exec(line);
    if (sub) { current = sub[2]!; subgraphs.push(current); continue; }
    if (line === 'end') { current = undefined; continue; }
    const decl = /^(\w+)(\[|\[\(|\(\[)"(.*)"(\]|\)\]|\]\))$/.exec(line);
    if (decl) {
      labels.set(decl[1]!, decl[3]!);
      shapes.set(decl[3]!, decl[2]!);
      if (current) subgraphOf.set(decl[3]!, current);
      continue;
    }
    const edge = /^(\w+) (-->|-\.-) (\w+)$/.exec(line);
    if (edge) edges.push([labels.get(edge[1]!) ?? `?${edge[1]}`, edge[2]!, labels.get(edge[3]!) ?? `?${edge[3]}`]);
  }
  return { labels, shapes, subgraphOf, subgraphs, edges, ids: [...labels.keys()] };
}

test('word count: two sub-topologies joined by the repartition topic', (t) => {
  const d = wordCount().describe();
  t.is(d.subtopologies.length, 2);
  t.deepEqual(d.subtopologies.map((s) => s.id), [0, 1]);

  const [sink0] = ofKind(d, 0, 'sink');
  const [source1] = ofKind(d, 1, 'source');
  t.truthy(sink0);
  t.truthy(source1);
  const repartition = d.internalTopics.find((x) => x.purpose === 'repartition');
  t.truthy(repartition);
  t.is(sink0!.topic, repartition!.name);
  t.deepEqual(source1!.topics, [repartition!.name]);
  t.deepEqual(ofKind(d, 0, 'source').flatMap((s) => s.topics), ['text']);
  t.deepEqual(ofKind(d, 1, 'sink').map((s) => s.topic), ['word-counts']);
  t.deepEqual(d.internalTopics.filter((x) => x.purpose === 'changelog').map((x) => x.name), ['counts-changelog']);
});

test('word count: edges run both ways and the count store sits under its processor', (t) => {
  const d = wordCount().describe();
  const source = ofKind(d, 0, 'source')[0]!;
  const flat = node(d, source.successors[0]!) as ProcessorDescription;
  t.regex(flat.name, /^KSTREAM-FLATMAPVALUES-/);
  t.deepEqual(flat.predecessors, [source.name]);
  t.is(flat.successors.length, 1);
  t.deepEqual((node(d, flat.successors[0]!) as ProcessorDescription).predecessors, [flat.name]);

  const [source1] = ofKind(d, 1, 'source');
  const count = node(d, source1!.successors[0]!) as ProcessorDescription;
  t.is(count.kind, 'processor');
  t.deepEqual(count.stores, ['counts']);
  t.deepEqual(count.predecessors, [source1!.name]);
  const stores = d.subtopologies.map((s) => s.nodes.filter((n) => n.kind === 'processor' && n.stores.length > 0).map((n) => n.name));
  t.deepEqual(stores, [[], [count.name]], 'only the count processor holds a store');
  const sink = ofKind(d, 1, 'sink')[0]!;
  const toStream = node(d, sink.predecessors[0]!) as ProcessorDescription;
  t.deepEqual(toStream.predecessors, [count.name]);
  t.deepEqual(toStream.successors, [sink.name]);
});

test('stream–table join: one sub-topology, the table store shared by join and materializer', (t) => {
  const b = new StreamsBuilder();
  const users = b.table<string, { name: string }>('users', {}, { storeName: 'users-store' });
  b.stream<string, { amount: number }>('orders').join(users, (o, u) => `${u.name}:${o.amount}`, { name: 'enrich' }).to('enriched');
  const d = b.build().describe();
  t.is(d.subtopologies.length, 1);
  t.deepEqual(ofKind(d, 0, 'source').flatMap((s) => s.topics).sort(), ['orders', 'users']);
  const join = node(d, 'enrich') as ProcessorDescription;
  t.deepEqual(join.stores, ['users-store']);
  t.is(node(d, join.predecessors[0]!).kind, 'source');
  t.deepEqual((node(d, join.predecessors[0]!) as SourceDescription).topics, ['orders']);
  t.is((node(d, join.successors[0]!) as SinkDescription).topic, 'enriched');
  const holders = ofKind(d, 0, 'processor').filter((p) => p.stores.includes('users-store')).map((p) => p.name);
  t.is(holders.length, 2, 'the join reads the store the table source writes');
  t.deepEqual(d.internalTopics.map((x) => x.name), ['users-store-changelog']);
  t.regex(d.toString(), /Processor: enrich \(stores: \[users-store\]\)\n {6}--> KSTREAM-SINK-\d+\n {6}<-- KSTREAM-SOURCE-\d+\n/);
});

test('Processor API topology prints Kafka Streams\' text exactly', (t) => {
  const topology = new Topology()
    .addSource('orders-in', 'orders')
    .addProcessor('enrich', () => ({ process() {} }), 'orders-in')
    .addStateStore(keyValueStore('seen'), 'enrich')
    .addSink('orders-out', 'enriched', {}, 'enrich')
    .addProcessor('audit', () => ({ process() {} }), 'enrich')
    .addSource('other-in', ['b-topic', 'a-topic'])
    .addSink('other-out', 'other', {}, 'other-in')
    .addGlobalStore(keyValueStore('rates'), 'rates-in', 'rates', {}, 'rates-update', () => ({ process() {} }));
  t.is(topology.describe().toString(), [
    'Topologies:',
    '   Sub-topology: 0',
    '    Source: orders-in (topics: [orders])',
    '      --> enrich',
    '    Processor: enrich (stores: [seen])',
    '      --> audit, orders-out',
    '      <-- orders-in',
    '    Processor: audit (stores: [])',
    '      --> none',
    '      <-- enrich',
    '    Sink: orders-out (topic: enriched)',
    '      <-- enrich',
    '',
    '  Sub-topology: 1',
    '    Source: other-in (topics: [b-topic, a-topic])',
    '      --> other-out',
    '    Sink: other-out (topic: other)',
    '      <-- other-in',
    '',
    '  Sub-topology: 2 for global store (will not generate tasks)',
    '    Source: rates-in (topics: [rates])',
    '      --> rates-update',
    '    Processor: rates-update (stores: [rates])',
    '      --> none',
    '      <-- rates-in',
    '',
  ].join('\n'));
  const [global] = topology.describe().globalStores;
  t.deepEqual({ id: global!.id, store: global!.store, topic: global!.topic }, { id: 2, store: 'rates', topic: 'rates' });
});

test('the description is a plain snapshot: JSON-safe and unaffected by later changes', (t) => {
  const topology = new Topology().addSource('in', 'a').addProcessor('p', () => ({ process() {} }), 'in');
  const d = topology.describe();
  const before = JSON.stringify(d);
  topology.addSink('out', 'b', {}, 'p');
  t.is(JSON.stringify(d), before);
  t.deepEqual((node(d, 'p') as ProcessorDescription).successors, []);
  t.deepEqual(JSON.parse(before).subtopologies[0].nodes[1], { kind: 'processor', name: 'p', stores: [], predecessors: ['in'], successors: [] });
});

test('Mermaid: a subgraph per sub-topology, topics outside linking them, stores on processors', (t) => {
  const d = wordCount().describe();
  const text = d.toMermaid();
  t.regex(text, /^flowchart TD\n/);
  t.regex(d.toMermaid({ direction: 'LR' }), /^flowchart LR\n/);
  const m = parseMermaid(text);
  t.deepEqual(m.subgraphs, ['Sub-topology: 0', 'Sub-topology: 1']);

  const sink0 = ofKind(d, 0, 'sink')[0]!;
  const source1 = ofKind(d, 1, 'source')[0]!;
  const repartition = sink0.topic;
  t.true(m.edges.some(([a, e, b]) => a === 'text' && e === '-->' && b === ofKind(d, 0, 'source')[0]!.name), 'topic --> source');
  t.true(m.edges.some(([a, e, b]) => a === sink0.name && e === '-->' && b === repartition), 'sink --> repartition topic');
  t.true(m.edges.some(([a, e, b]) => a === repartition && e === '-->' && b === source1.name), 'repartition topic --> source');
  t.true(m.edges.some(([a, , b]) => a === ofKind(d, 1, 'sink')[0]!.name && b === 'word-counts'), 'sink --> output topic');
  t.true(m.edges.some(([a, e, b]) => a === source1.successors[0] && e === '-.-' && b === 'counts'), 'count processor -.- store');

  t.is(m.subgraphOf.get(sink0.name), 'Sub-topology: 0');
  t.is(m.subgraphOf.get(source1.name), 'Sub-topology: 1');
  t.is(m.subgraphOf.get('counts'), 'Sub-topology: 1');
  t.false(m.subgraphOf.has(repartition), 'a topic belongs to no sub-topology');
  t.is(m.shapes.get(repartition), '([', 'topics are stadiums');
  t.is(m.shapes.get('counts'), '[(', 'stores are cylinders');
  t.is(m.shapes.get(sink0.name), '[');
  for (const id of m.ids) t.regex(id, /^[A-Za-z0-9_]+$/);
  t.regex(text, new RegExp(`class \\w*${repartition.replace(/\W/g, '_')}\\w* internal`), 'internal topics are styled apart');
});

test('Mermaid: ids stay distinct when names sanitize alike, and labels are quoted safely', (t) => {
  const topology = new Topology()
    .addSource('a-b', 'my"topic')
    .addProcessor('a.b', () => ({ process() {} }), 'a-b')
    .addSink('end', 'a-b', {}, 'a.b');
  const m = parseMermaid(topology.describe().toMermaid());
  // Three nodes and two topics; a collision would declare one id twice and leave four.
  t.is(m.labels.size, 5);
  t.true(m.edges.some(([a, , b]) => a === 'my#quot;topic' && b === 'a-b'));
  t.true(m.edges.some(([a, , b]) => a === 'a-b' && b === 'a.b'));
  t.true(m.edges.some(([a, , b]) => a === 'end' && b === 'a-b'));
  t.false(m.ids.includes('end'), 'a node named end must not become the keyword');
});

test('stores() names each sub-topology store once, global stores apart; co-partition groups read as a copy', (t) => {
  const topology = new Topology()
    .addSource('in', 'a')
    .addProcessor('p', () => ({ process() {} }), 'in')
    .addProcessor('q', () => ({ process() {} }), 'p')
    .addStateStore(keyValueStore('shared'), 'p', 'q')
    .addSource('other-in', 'b')
    .addProcessor('r', () => ({ process() {} }), 'other-in')
    .addStateStore(keyValueStore('own'), 'r')
    .addGlobalStore(keyValueStore('rates'), 'rates-in', 'rates', {}, 'rates-update', () => ({ process() {} }))
    .connectProcessorAndStateStores('r', 'rates')
    .copartition(['a', 'b']);
  const d = topology.describe();
  t.deepEqual(d.stores(), ['shared', 'own']);
  t.deepEqual(d.globalStores.map((g) => g.store), ['rates']);
  const groups = topology.copartitionedTopics();
  t.deepEqual(groups, [['a', 'b']]);
  groups[0]!.push('c');
  groups.push(['x']);
  t.deepEqual(topology.copartitionedTopics(), [['a', 'b']], 'the copy does not reach the topology');
  // The graph is not a property of the topology: team code has describe() and these readers.
  for (const field of ['nodes', 'stores', 'globalStores', 'internalTopics', 'copartitionGroups']) t.false(field in topology, field);
});
