/**
 * A processor's topology (the engine's `describe()`, the structure its Mermaid text is drawn
 * from) as plain SVG: topics, processor nodes and stores in layers from the input topics
 * rightwards, edges between them, and each node's live record rate on it. Layers are longest
 * paths from the inputs over the graph without its back edges (the order saga loops through
 * its retry topic); within a layer nodes keep their predecessors' order.
 */
import { svg, formatValue } from './charts.js';

const COL = 226;
const ROW = 34;
const NODE_W = 200;
const NODE_H = 24;

/** Graph of the description: vertices `t:`/`n:`/`s:` (topic, node, store) and directed edges. */
export function graphOf(description) {
  const vertices = new Map();
  const edges = [];
  const add = (id, kind, label, sub) => { if (!vertices.has(id)) vertices.set(id, { id, kind, label, sub }); };
  const nodes = [
    ...description.subtopologies.flatMap((s) => s.nodes.map((n) => ({ n, sub: s.id }))),
    ...description.globalStores.flatMap((g) => [{ n: g.source, sub: g.id }, { n: g.processor, sub: g.id }]),
  ];
  for (const { n, sub } of nodes) {
    add(`n:${n.name}`, n.kind, n.name, sub);
    if (n.kind === 'source') for (const t of n.topics) { add(`t:${t}`, 'topic', t); edges.push({ from: `t:${t}`, to: `n:${n.name}` }); }
    if (n.kind === 'sink') { add(`t:${n.topic}`, 'topic', n.topic); edges.push({ from: `n:${n.name}`, to: `t:${n.topic}` }); }
    if (n.kind !== 'sink') for (const c of n.successors) edges.push({ from: `n:${n.name}`, to: `n:${c}` });
    if (n.kind === 'processor') for (const s of n.stores) { add(`s:${s}`, 'store', s); edges.push({ from: `n:${n.name}`, to: `s:${s}`, store: true }); }
  }
  return { vertices, edges };
}

/** x layer and y row of every vertex. */
export function layout({ vertices, edges }) {
  const out = new Map([...vertices.keys()].map((v) => [v, []]));
  for (const e of edges) out.get(e.from)?.push(e.to);
  // Back edges by DFS from the vertices nothing points at (then any left, for pure cycles).
  const incoming = new Set(edges.map((e) => e.to));
  const state = new Map();
  const back = new Set();
  const visit = (v) => {
    state.set(v, 1);
    for (const w of out.get(v) ?? []) {
      if (state.get(w) === 1) back.add(`${v}>${w}`);
      else if (!state.has(w)) visit(w);
    }
    state.set(v, 2);
  };
  for (const v of vertices.keys()) if (!incoming.has(v)) visit(v);
  for (const v of vertices.keys()) if (!state.has(v)) visit(v);
  const dag = edges.filter((e) => !back.has(`${e.from}>${e.to}`));
  const layer = new Map([...vertices.keys()].map((v) => [v, 0]));
  for (let pass = 0, changed = true; changed && pass <= vertices.size; pass++) {
    changed = false;
    for (const e of dag) {
      if (layer.get(e.to) < layer.get(e.from) + 1) { layer.set(e.to, layer.get(e.from) + 1); changed = true; }
    }
  }
  const rows = new Map();
  const position = new Map();
  const order = [...vertices.keys()].sort((a, b) => layer.get(a) - layer.get(b));
  for (const v of order) {
    const preds = dag.filter((e) => e.to === v && position.has(e.from)).map((e) => position.get(e.from).row);
    const wanted = preds.length ? Math.round(preds.reduce((s, r) => s + r, 0) / preds.length) : 0;
    const used = rows.get(layer.get(v)) ?? new Set();
    let row = wanted;
    for (let d = 0; used.has(row); d++) row = wanted + (d % 2 === 0 ? d / 2 + 1 : -(d + 1) / 2);
    while (row < 0 || used.has(row)) row++;
    used.add(row);
    rows.set(layer.get(v), used);
    position.set(v, { col: layer.get(v), row });
  }
  return position;
}

/**
 * Live rates per vertex from the gateway's instant queries: a node's own process-total rate when
 * the engine reports it per node, else its sub-topology's (sources and processors: records in;
 * sinks and their topics: records out); a topic read here, what its sources take in.
 */
export function ratesOf(graph, rates, matches) {
  const mine = (list) => (list ?? []).filter((r) => matches(r.metric.application ?? ''));
  const bySub = (list) => new Map(mine(list).map((r) => [Number(r.metric.subtopology), r.value]));
  const inSub = bySub(rates.subtopology);
  const outSub = bySub(rates.produced);
  const perNode = new Map(mine(rates.node).map((r) => [r.metric.processor_node_id, r.value]));
  const result = new Map();
  for (const v of graph.vertices.values()) {
    if (v.kind === 'topic' || v.kind === 'store') continue;
    const own = perNode.get(v.label);
    result.set(v.id, own ?? (v.kind === 'sink' ? outSub.get(v.sub) : inSub.get(v.sub)));
  }
  for (const e of graph.edges) {
    const from = graph.vertices.get(e.from);
    if (from?.kind === 'topic' && result.get(e.to) !== undefined) result.set(e.from, (result.get(e.from) ?? 0) + result.get(e.to));
    const to = graph.vertices.get(e.to);
    if (to?.kind === 'topic' && from?.kind === 'sink' && result.get(e.from) !== undefined && !result.has(e.to)) result.set(e.to, result.get(e.from));
  }
  return result;
}

function shorten(label, max = 26) {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

/** The map as an <svg>; each node a <g data-node=name data-rate=…>. */
export function drawTopology(graph, rates) {
  const position = layout(graph);
  const cols = Math.max(...[...position.values()].map((p) => p.col), 0) + 1;
  const rowsN = Math.max(...[...position.values()].map((p) => p.row), 0) + 1;
  const width = cols * COL + 20;
  const height = rowsN * ROW + 20;
  const map = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', style: `max-width: 100%; height: auto; aspect-ratio: ${width} / ${height}` });
  map.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 6, markerHeight: 6, orient: 'auto' }, svg('path', { d: 'M0,0L8,4L0,8z', fill: '#a99886' }))));
  const at = (id) => { const p = position.get(id); return { x: 10 + p.col * COL, y: 10 + p.row * ROW }; };
  for (const e of graph.edges) {
    const a = at(e.from);
    const b = at(e.to);
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const d = x2 > x1 ? `M${x1},${y1}C${x1 + 20},${y1} ${x2 - 20},${y2} ${x2},${y2}` : `M${x1},${y1}C${x1 + 60},${y1 - 40} ${x2 - 60},${y2 - 40} ${x2},${y2}`;
    map.append(svg('path', { d, class: e.store ? 'edge store' : 'edge', 'marker-end': e.store ? undefined : 'url(#arrow)' }));
  }
  for (const v of graph.vertices.values()) {
    const { x, y } = at(v.id);
    const rate = rates.get(v.id);
    const kind = v.kind === 'topic' ? 'topic' : v.kind === 'store' ? 'store' : 'proc';
    const g = svg('g', { class: `node ${kind}${rate > 0 ? ' busy' : ''}`, transform: `translate(${x},${y})`, 'data-node': v.label, 'data-kind': v.kind, 'data-rate': rate === undefined ? '' : rate.toFixed(3) });
    g.append(
      svg('title', {}, `${v.kind} ${v.label}${rate === undefined ? '' : ` — ${formatValue(rate, '/s')}`}`),
      svg('rect', { width: NODE_W, height: NODE_H, rx: kind === 'topic' ? 12 : kind === 'store' ? 8 : 3 }),
      svg('text', { x: 8, y: 16 }, shorten(v.label, rate === undefined ? 30 : 21)),
    );
    if (rate !== undefined) g.append(svg('text', { x: NODE_W - 6, y: 16, 'text-anchor': 'end', class: 'rate' }, formatValue(rate, '/s')));
    map.append(g);
  }
  return map;
}
