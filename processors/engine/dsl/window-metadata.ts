/**
 * What windowed operators record about themselves in a topology: when the windows of a node's
 * output close (so that `suppress` downstream knows when a result is final, as Kafka Streams'
 * GraphGraceSearchUtil finds the grace period upstream), and how many late records each node
 * dropped (Kafka Streams' dropped-records sensor).
 */
import { TopologyError } from '../errors.ts';
import type { Topology } from '../topology.ts';
import { internals } from '../internals.ts';

interface Metadata {
  /** Node → ms after a window's `end` when stream time closes it. */
  readonly closeDelay: Map<string, number>;
  readonly dropped: Map<string, number>;
}

const byTopology = new WeakMap<Topology, Metadata>();

function of(topology: Topology): Metadata {
  let m = byTopology.get(topology);
  if (!m) byTopology.set(topology, (m = { closeDelay: new Map(), dropped: new Map() }));
  return m;
}

/**
 * Declares that `node` emits windowed results whose window closes once stream time reaches
 * `window.end + closeDelayMs`.
 */
export function registerWindowedNode(topology: Topology, node: string, closeDelayMs: number): void {
  of(topology).closeDelay.set(node, closeDelayMs);
  of(topology).dropped.set(node, 0);
}

/** The close delay of the windowed aggregation upstream of `node` (the largest, if several). */
export function windowCloseDelay(topology: Topology, node: string): number {
  const delays = of(topology).closeDelay;
  const seen = new Set<string>();
  const walk = (n: string): number => {
    if (seen.has(n)) return -1;
    seen.add(n);
    const own = delays.get(n);
    if (own !== undefined) return own;
    const def = internals(topology).nodes.get(n);
    if (!def || def.kind === 'source') return -1;
    return Math.max(-1, ...def.parents.map(walk));
  };
  const found = walk(node);
  if (found < 0) throw new TopologyError(`${node} has no windowed aggregation upstream in its sub-topology: untilWindowCloses needs one`);
  return found;
}

/** Counts one record dropped by `node` because its window had closed. */
export function recordLateDrop(topology: Topology, node: string): void {
  const d = of(topology).dropped;
  d.set(node, (d.get(node) ?? 0) + 1);
}

/** Late records dropped so far by each windowed node of the topology, in every task. */
export function droppedLateRecords(topology: Topology): ReadonlyMap<string, number> {
  return of(topology).dropped;
}
