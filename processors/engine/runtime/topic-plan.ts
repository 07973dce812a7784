/**
 * Which topics an application reads and writes, how many partitions each has and which it must
 * create, as Kafka Streams' `RepartitionTopics` and `InternalTopicManager` decide it: pure, from
 * the topology and the descriptions of the topics that exist, so it is tested without a broker.
 */
import type { TopicDescription, TopicSpec } from '../../../transports/index.ts';
import { TopologyError, UnsupportedGuaranteeError } from '../errors.ts';
import { changelogName, resolveTopic, type SourceNode, type Subtopology, type Topology } from '../topology.ts';
import { internals } from '../internals.ts';

/** Where each input goes and the counts that fix the task ids. */
export interface TopicRouting {
  /** The topology's sub-topologies, numbered once (task ids are `<sub>_<partition>`). */
  readonly subtopologies: readonly Subtopology[];
  /** The sub-topology reading each (resolved) source topic. */
  readonly subOfTopic: ReadonlyMap<string, Subtopology>;
  /** The source node reading each (resolved) source topic, for its serdes. */
  readonly sourceOfTopic: ReadonlyMap<string, SourceNode>;
  /** Topics the application needs but does not create: they must exist before it starts. */
  readonly external: ReadonlySet<string>;
}

export interface TopicPlan extends TopicRouting {
  /** Partition count of every topic the application reads or writes (resolved names). */
  readonly partitions: ReadonlyMap<string, number>;
  /** Tasks per sub-topology: its inputs' largest partition count. */
  readonly taskCount: ReadonlyMap<number, number>;
  /** The internal topics to create: repartition topics, changelogs, dead letters, checkpoints. */
  readonly create: readonly TopicSpec[];
}

export interface PlanOptions {
  readonly applicationId: string;
  /** Partitions of a repartition topic nothing else fixes. */
  readonly defaultPartitions: number;
  /** Created when the error policies send records there. */
  readonly deadLetterTopic?: string;
  /** Created under exactly_once: each sub-topology's task checkpoints, a partition per task. */
  readonly checkpointTopic?: (subtopology: number) => string;
  /** Retention of the checkpoint topics where the broker does not compact. */
  readonly checkpointRetention?: Pick<TopicSpec, 'retentionBytes' | 'segmentBytes'>;
  /**
   * Effectively-once (no transactions) skips re-read input by offset, so its inputs must be
   * re-readable: work topics are refused, naming the transport.
   */
  readonly replayableInputs?: { readonly transport: string };
  /**
   * Changelogs and the checkpoint topics keep only the latest record per key (compaction, where
   * the broker has it). Default true. False under effectively-once: its restore applies only the
   * entries of commit units that landed, so the latest entry of a key may be one it must skip,
   * and the older one it then needs must still be there.
   */
  readonly compacted?: boolean;
  /** Retention of changelogs that snapshots bound (transports without compaction; see snapshots.ts). */
  readonly changelogRetention?: Pick<TopicSpec, 'retentionBytes' | 'segmentBytes'>;
}

/** The sources, sinks and global topics of a topology, resolved under the application id. */
export function routeTopics(topology: Topology, applicationId: string): TopicRouting {
  const resolve = (t: string) => resolveTopic(topology, applicationId, t);
  const graph = internals(topology);
  const internal = new Set([...graph.internalTopics.keys()].map(resolve));
  const subOfTopic = new Map<string, Subtopology>();
  const sourceOfTopic = new Map<string, SourceNode>();
  const external = new Set<string>();
  const subtopologies = topology.subtopologies();
  for (const sub of subtopologies) {
    for (const t of sub.sourceTopics) {
      subOfTopic.set(resolve(t), sub);
      if (!internal.has(resolve(t))) external.add(resolve(t));
    }
    for (const t of sub.sinkTopics) if (!internal.has(resolve(t))) external.add(resolve(t));
    for (const name of sub.nodes) {
      const node = graph.nodes.get(name)!;
      if (node.kind === 'source') for (const t of node.topics) sourceOfTopic.set(resolve(t), node);
    }
  }
  for (const g of graph.globalStores.values()) for (const t of g.source.topics) external.add(t);
  return { subtopologies, subOfTopic, sourceOfTopic, external };
}

/**
 * Plans every partition count from the external topics' descriptions (`undefined`: missing).
 * Throws `TopologyError` for missing or non-co-partitioned topics and
 * `UnsupportedGuaranteeError` for work-topic inputs under effectively-once.
 */
export function planTopics(
  topology: Topology, routing: TopicRouting, described: ReadonlyMap<string, TopicDescription | undefined>, options: PlanOptions,
): TopicPlan {
  const resolve = (t: string) => resolveTopic(topology, options.applicationId, t);
  const partitions = new Map<string, number>();
  const missing: string[] = [];
  for (const t of routing.external) {
    const d = described.get(t);
    if (!d) { missing.push(t); continue; }
    partitions.set(t, d.partitions);
    if (options.replayableInputs && routing.subOfTopic.has(t) && d.kind !== 'replayable') {
      throw new UnsupportedGuaranteeError(
        `exactly_once on ${options.replayableInputs.transport} needs replayable input topics (RabbitMQ streams) to skip what a crash already applied; ${t} is a work topic — create it with kind "replayable" or use at_least_once`);
    }
  }
  if (missing.length > 0) throw new TopologyError(`topics missing: ${missing.join(', ')}; create them before starting ${options.applicationId}`);
  const { subtopologies } = routing;
  // Repartition topics: a topic joined with others takes their count (a foreign-key join's
  // subscription topic is co-partitioned with the foreign table); otherwise the count of the
  // sub-topology that writes it. Repeated until nothing changes, since they feed each other.
  const graph = internals(topology);
  const repartition = [...graph.internalTopics.values()].filter((t) => t.purpose === 'repartition');
  for (const t of repartition) if (t.partitions !== undefined) partitions.set(resolve(t.name), t.partitions);
  for (let changed = true; changed;) {
    changed = false;
    for (const group of graph.copartitionGroups) {
      const known = group.map((t) => partitions.get(resolve(t))).find((n) => n !== undefined);
      if (known === undefined) continue;
      for (const t of group) {
        if (graph.internalTopics.has(t) && !partitions.has(resolve(t))) { partitions.set(resolve(t), known); changed = true; }
      }
    }
    for (const t of repartition) {
      const name = resolve(t.name);
      if (partitions.has(name)) continue;
      const writer = subtopologies.find((s) => s.sinkTopics.includes(t.name));
      const counts = (writer?.sourceTopics ?? []).map((s) => partitions.get(resolve(s))).filter((n): n is number => n !== undefined);
      if (counts.length > 0) { partitions.set(name, Math.max(...counts)); changed = true; }
    }
  }
  for (const t of repartition) if (!partitions.has(resolve(t.name))) partitions.set(resolve(t.name), options.defaultPartitions);
  const taskCount = new Map<number, number>();
  for (const sub of subtopologies) taskCount.set(sub.id, Math.max(...sub.sourceTopics.map((t) => partitions.get(resolve(t))!)));
  for (const group of graph.copartitionGroups) {
    if (new Set(group.map((t) => partitions.get(resolve(t)))).size > 1) {
      const counts = group.map((t) => `${resolve(t)}=${partitions.get(resolve(t))}`);
      throw new TopologyError(`joined topics must be co-partitioned (same partition count, same key): ${counts.join(', ')}; repartition one side or recreate the topic`);
    }
  }
  const create: TopicSpec[] = [];
  const compacted = options.compacted ?? true;
  for (const t of repartition) create.push({ name: resolve(t.name), partitions: partitions.get(resolve(t.name))!, kind: 'replayable' });
  for (const sub of subtopologies) {
    for (const store of sub.stores) {
      if (!graph.stores.get(store)!.logging) continue;
      create.push({ name: resolve(changelogName(store)), partitions: taskCount.get(sub.id)!, kind: 'replayable', compacted, ...options.changelogRetention });
    }
  }
  if (options.deadLetterTopic) create.push({ name: options.deadLetterTopic, partitions: 1, kind: 'replayable' });
  // Keyed by task: a restore needs only each task's latest checkpoint.
  if (options.checkpointTopic) {
    for (const sub of subtopologies) {
      create.push({ name: options.checkpointTopic(sub.id), partitions: taskCount.get(sub.id)!, kind: 'replayable', compacted, ...options.checkpointRetention });
    }
  }
  for (const s of create) partitions.set(s.name, s.partitions);
  return { ...routing, partitions, taskCount, create };
}

/** The changelog topic of every logged store, resolved under the application id. */
export function changelogTopics(topology: Topology, routing: TopicRouting, applicationId: string): string[] {
  const out: string[] = [];
  const { stores } = internals(topology);
  for (const sub of routing.subtopologies) {
    for (const store of sub.stores) if (stores.get(store)!.logging) out.push(resolveTopic(topology, applicationId, changelogName(store)));
  }
  return out;
}
