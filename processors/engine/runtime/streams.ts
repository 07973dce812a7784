/**
 * Runs a topology on a transport, as Kafka Streams' `KafkaStreams`: one consumer group named by
 * the application id reads every source topic; partition p of a sub-topology's inputs makes
 * task `<sub>_<p>`; each task's stores are restored from their changelogs before it processes;
 * outputs, changelog entries and positions are committed together every commit interval, under
 * the chosen guarantee. All work (batches, rebalances, timers, commits) runs in one lane, so a
 * commit never interleaves with processing.
 *
 * A retriable failure (the broker away) does not stop the application: as Kafka Streams does, it
 * drops the uncommitted outputs, changelog entries and positions, closes the tasks dirty, and
 * starts again from the last commit — new producers and consumer, tasks restored from their
 * changelogs and checkpoints — retrying with back-off until `taskTimeoutMs` passes without
 * progress, when it goes to ERROR with `TaskTimeoutFailure`.
 */
import { randomUUID } from 'node:crypto';
import {
  partitionForKey, type ConsumedRecord, type Consumer, type Producer, type ProducerRecord, type RecordBatch, type TopicPartition,
} from '../../../transports/index.ts';
import { sleep, withTimeout } from '../../../transports/util.ts';
import {
  CommitFailure, RecordTooLargeFailure, StreamsError, TaskTimeoutFailure, TopologyError, UnsupportedGuaranteeError, errorMessage, isRetriable,
} from '../errors.ts';
import type { StateStore } from '../stores/store.ts';
import { changelogName, resolveTopic, type SourceNode, type Subtopology, type Topology } from '../topology.ts';
import { resolveConfig, type ResolvedConfig, type StreamsConfig } from './config.ts';
import { Deduplicator, ORIGIN_HEADER, UNIT_HEADER, encodeOrigin, type Checkpoint } from './effectively-once.ts';
import { oversizedDeadLetter } from './error-handling.ts';
import { GlobalStores } from './global-stores.ts';
import { Metrics } from './metrics.ts';
import { isMarker, readToEnd } from './read-to-end.ts';
import { StreamTask, type InputRecord, type OutputRecord, type TaskHost } from './task.ts';

export type StreamsState = 'CREATED' | 'STARTING' | 'RUNNING' | 'ERROR' | 'CLOSED';

interface TaskEntry {
  readonly task: StreamTask;
  readonly dedup: Deduplicator;
  /** Input below these offsets is already in the task's state (effectively-once restore). */
  readonly skipBelow: Map<string, number>;
}

interface Pending {
  readonly record: OutputRecord;
  readonly taskId: string;
}

export class StreamsApp {
  state: StreamsState = 'CREATED';
  readonly config: ResolvedConfig;
  readonly metrics = new Metrics();
  private readonly subtopologies: Subtopology[];
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly subOfTopic = new Map<string, Subtopology>();
  private readonly sourceOfTopic = new Map<string, SourceNode>();
  private readonly partitions = new Map<string, number>();
  private readonly taskCount = new Map<number, number>();
  private pending: Pending[] = [];
  private readonly committedPositions = new Map<string, number>();
  private changelog: ProducerRecord[] = [];
  /** The transport's largest record per topic (`Producer.maxRecordBytes`), read once. */
  private readonly recordLimits = new Map<string, number>();
  private deadLetters: Promise<void> | undefined;
  private lane: Promise<void> = Promise.resolve();
  private producer: Producer | undefined;
  private plainProducer: Producer | undefined;
  private consumer: Consumer | undefined;
  private globalConsumer: Consumer | undefined;
  private globalGroup: string | undefined;
  private globals: GlobalStores | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastCommit = Date.now();
  private commitRequested = false;
  private readonly incarnation = randomUUID().slice(0, 8);
  private unitSeq = 0;
  private failure: Error | undefined;
  /** Bumped when the consumer is replaced: batches and callbacks of an older one do nothing. */
  private generation = 0;
  /** Since when tasks have made no progress through retriable failures (undefined: healthy). */
  private stalledSince: number | undefined;
  /** A re-initialisation loop is running; `recoverAgain` is a failure it has yet to answer. */
  private recovering = false;
  private recoverAgain: Error | undefined;
  private globalsFailed = false;
  private readonly done: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };

  constructor(readonly topology: Topology, config: StreamsConfig) {
    this.config = resolveConfig(config);
    topology.validate();
    this.subtopologies = topology.subtopologies();
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    promise.catch(() => undefined);
    this.done = { promise, resolve, reject };
    this.metrics.recordsOutFrom(() => new Map([...this.tasks].map(([id, e]) => [id, e.task.recordsOut])));
    this.metrics.stateFrom(() => this.state);
  }

  /** exactly_once without transactions: dedup on source positions, checkpoints with the state. */
  private get effectivelyOnce(): boolean {
    return this.config.guarantee === 'exactly_once' && !this.config.transport.capabilities.transactions;
  }

  private get transactional(): boolean {
    return this.config.guarantee === 'exactly_once' && this.config.transport.capabilities.transactions;
  }

  async start(): Promise<void> {
    if (this.state !== 'CREATED') throw new StreamsError(`cannot start an application in state ${this.state}`);
    this.state = 'STARTING';
    try {
      await this.planTopics();
      await this.connectProducers();
      // Changelog entries are checked as the store writes them, synchronously: their limits first.
      for (const t of this.changelogTopics()) await this.recordLimit(t);
      await this.startGlobals();
      await this.startConsumer();
      if (this.failure) throw this.failure;
      this.timer = setInterval(() => { void this.inLane(() => this.tick()).catch(() => undefined); }, this.config.tickMs);
      this.state = 'RUNNING';
    } catch (e) {
      this.state = 'ERROR';
      await this.teardown();
      throw e;
    }
  }

  /** Commits what is done, leaves the group, closes tasks and stores. */
  async close(): Promise<void> {
    if (this.state === 'CLOSED') return;
    clearInterval(this.timer);
    if (this.state === 'RUNNING') await this.inLane(() => this.commit()).catch((e: unknown) => this.config.logger(`final commit failed: ${errorMessage(e)}`));
    this.state = 'CLOSED';
    await this.teardown();
    this.done.resolve();
  }

  /** Resolves on close; rejects with the error that stopped the application. */
  stopped(): Promise<void> {
    return this.done.promise;
  }

  /** Local tasks' (and global) stores of that name, for read-only interactive queries. */
  stores<S extends StateStore>(name: string): S[] {
    const out: S[] = [];
    for (const { task } of this.tasks.values()) {
      const s = task.stores.get(name);
      if (s) out.push(s as S);
    }
    const g = this.globals?.store(name);
    if (g) out.push(g as S);
    return out;
  }

  /** Prometheus text exposition of this instance's task metrics. */
  metricsText(): string {
    return this.metrics.prometheus(this.config.applicationId);
  }

  /** Records this instance has consumed and processed since it started (all tasks, ever). */
  recordsProcessed(): number {
    let n = 0;
    for (const id of this.metrics.taskIds()) n += this.metrics.snapshot(id)?.recordsIn ?? 0;
    return n;
  }

  /** Every topic this application creates for itself (for a reset: delete them with the group). */
  internalTopicNames(): string[] {
    const names = [...this.topology.internalTopics.keys()].map((t) => this.resolve(t));
    if (this.usesDeadLetters() || this.config.errors.production === 'dead-letter') names.push(this.config.errors.deadLetterTopic);
    if (this.config.guarantee === 'exactly_once') names.push(this.checkpointTopic());
    return names;
  }

  /** Tasks this instance runs now. */
  taskIds(): string[] {
    return [...this.tasks.keys()].sort();
  }

  // --- start-up ---

  private async connectProducers(): Promise<void> {
    const { transport, applicationId, instanceId } = this.config;
    this.plainProducer = transport.producer();
    if (!this.transactional) this.producer = this.plainProducer;
    await this.plainProducer.connect();
    if (this.transactional) {
      // Connecting with the same transactional id aborts what a crashed predecessor left open.
      this.producer = transport.producer({ transactionalId: `${applicationId}-${instanceId}` });
      await this.producer.connect();
    }
  }

  /**
   * Joins the group. The callbacks never reject: the lane answers a failure (recovery or ERROR),
   * and a rejected callback would stop the consumer or break its group's rebalance instead.
   */
  private async startConsumer(): Promise<void> {
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    const consumer = this.config.transport.consumer({
      groupId: this.config.applicationId,
      topics: [...this.subOfTopic.keys()],
      autoOffsetReset: 'earliest',
      maxBatchSize: 1000,
      onAssign: (tps) => this.inLane(() => (current() ? this.assign(tps) : undefined)).catch(() => undefined),
      onRevoke: (tps) => this.inLane(() => (current() ? this.revoke(tps) : undefined)).catch(() => undefined),
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.run((batch) => this.inLane(() => (current() ? this.handle(batch) : undefined)).catch(() => undefined));
    void consumer.stopped().then(() => undefined, (e: unknown) => { if (current()) this.laneError(asError(e)); });
  }

  private resolve(topic: string): string {
    return resolveTopic(this.topology, this.config.applicationId, topic);
  }

  private async planTopics(): Promise<void> {
    const { transport, guarantee } = this.config;
    const admin = transport.admin();
    if (guarantee === 'exactly_once' && !transport.capabilities.transactions && transport.name !== 'rabbit') {
      throw new UnsupportedGuaranteeError(`${transport.name} gives neither transactions nor effectively-once; use at_least_once`);
    }
    const internal = new Set([...this.topology.internalTopics.keys()].map((t) => this.resolve(t)));
    const external = new Set<string>();
    for (const sub of this.subtopologies) {
      for (const t of sub.sourceTopics) {
        const r = this.resolve(t);
        this.subOfTopic.set(r, sub);
        if (!internal.has(r)) external.add(r);
      }
      for (const t of sub.sinkTopics) if (!internal.has(this.resolve(t))) external.add(this.resolve(t));
      for (const name of sub.nodes) {
        const node = this.topology.nodes.get(name)!;
        if (node.kind === 'source') for (const t of node.topics) this.sourceOfTopic.set(this.resolve(t), node);
      }
    }
    for (const g of this.topology.globalStores.values()) for (const t of g.source.topics) external.add(t);
    const missing: string[] = [];
    for (const t of external) {
      const d = await admin.describeTopic(t);
      if (!d) { missing.push(t); continue; }
      this.partitions.set(t, d.partitions);
      if (this.effectivelyOnce && this.subOfTopic.has(t) && d.kind !== 'replayable') {
        throw new UnsupportedGuaranteeError(
          `exactly_once on ${transport.name} needs replayable input topics (RabbitMQ streams) to skip what a crash already applied; ${t} is a work topic — create it with kind "replayable" or use at_least_once`);
      }
    }
    if (missing.length > 0) throw new TopologyError(`topics missing: ${missing.join(', ')}; create them before starting ${this.config.applicationId}`);
    // Repartition topics: a topic joined with others takes their count (a foreign-key join's
    // subscription topic is co-partitioned with the foreign table); otherwise the count of the
    // sub-topology that writes it. Repeated until nothing changes, since they feed each other.
    const repartition = [...this.topology.internalTopics.values()].filter((t) => t.purpose === 'repartition');
    for (const t of repartition) if (t.partitions !== undefined) this.partitions.set(this.resolve(t.name), t.partitions);
    for (let changed = true; changed;) {
      changed = false;
      for (const group of this.topology.copartitionGroups) {
        const known = group.map((t) => this.partitions.get(this.resolve(t))).find((n) => n !== undefined);
        if (known === undefined) continue;
        for (const t of group) {
          if (this.topology.internalTopics.has(t) && !this.partitions.has(this.resolve(t))) { this.partitions.set(this.resolve(t), known); changed = true; }
        }
      }
      for (const t of repartition) {
        const name = this.resolve(t.name);
        if (this.partitions.has(name)) continue;
        const writer = this.subtopologies.find((s) => s.sinkTopics.includes(t.name));
        const counts = (writer?.sourceTopics ?? []).map((s) => this.partitions.get(this.resolve(s))).filter((n): n is number => n !== undefined);
        if (counts.length > 0) { this.partitions.set(name, Math.max(...counts)); changed = true; }
      }
    }
    for (const t of repartition) {
      if (!this.partitions.has(this.resolve(t.name))) this.partitions.set(this.resolve(t.name), this.config.defaultPartitions);
    }
    for (const sub of this.subtopologies) {
      this.taskCount.set(sub.id, Math.max(...sub.sourceTopics.map((t) => this.partitions.get(this.resolve(t))!)));
    }
    for (const group of this.topology.copartitionGroups) {
      const counts = group.map((t) => `${this.resolve(t)}=${this.partitions.get(this.resolve(t))}`);
      if (new Set(group.map((t) => this.partitions.get(this.resolve(t)))).size > 1) {
        throw new TopologyError(`joined topics must be co-partitioned (same partition count, same key): ${counts.join(', ')}; repartition one side or recreate the topic`);
      }
    }
    const specs = [];
    for (const t of repartition) specs.push({ name: this.resolve(t.name), partitions: this.partitions.get(this.resolve(t.name))!, kind: 'replayable' as const });
    for (const sub of this.subtopologies) {
      for (const store of sub.stores) {
        if (!this.topology.stores.get(store)!.logging) continue;
        specs.push({ name: this.resolve(changelogName(store)), partitions: this.taskCount.get(sub.id)!, kind: 'replayable' as const, compacted: true });
      }
    }
    if (this.usesDeadLetters()) specs.push({ name: this.config.errors.deadLetterTopic, partitions: 1, kind: 'replayable' as const });
    if (this.config.guarantee === 'exactly_once') specs.push({ name: this.checkpointTopic(), partitions: 1, kind: 'replayable' as const });
    await admin.createTopics(specs);
    for (const s of specs) this.partitions.set(s.name, s.partitions);
  }

  private usesDeadLetters(): boolean {
    return this.config.errors.deserialization === 'dead-letter' || this.config.errors.processing === 'dead-letter';
  }

  private checkpointTopic(): string {
    return `${this.config.applicationId}-checkpoints`;
  }

  private async startGlobals(): Promise<void> {
    if (this.topology.globalStores.size === 0) return;
    const globals = new GlobalStores(this.topology, this.config.applicationId, this.config.stateDir, () => Date.now());
    this.globals = globals;
    const tps: TopicPartition[] = [];
    for (const t of globals.topics()) for (let p = 0; p < this.partitions.get(t)!; p++) tps.push({ topic: t, partition: p });
    this.globalGroup = `${this.config.applicationId}-global-${this.incarnation}`;
    // Updates arrive outside the lane's batches; applying them in the lane keeps reads consistent.
    this.globalConsumer = await readToEnd({
      transport: this.config.transport, producer: this.plainProducer!, partitions: tps, groupPrefix: this.globalGroup,
      groupId: this.globalGroup, follow: true,
      onRecord: (r) => { void this.inLane(() => this.applyGlobal(r)).catch(() => undefined); },
    });
    const consumer = this.globalConsumer;
    void consumer?.stopped().then(() => undefined, (e: unknown) => {
      if (consumer !== this.globalConsumer) return;
      this.globalsFailed = true;
      this.laneError(asError(e));
    });
    await this.inLane(async () => {});
  }

  private async applyGlobal(r: ConsumedRecord): Promise<void> {
    const source = this.globals!.source(r.topic)!;
    try {
      const { key, value } = await decode(source, r);
      this.globals!.apply(r.topic, { key, value, timestamp: r.timestamp, headers: r.headers }, r.offset, r.partition);
    } catch (e) {
      this.config.logger(`global store update skipped (${r.topic}/${r.partition}@${r.offset}): ${errorMessage(e)}`);
    }
  }

  // --- rebalance ---

  private taskIdOf(tp: TopicPartition): string | undefined {
    const sub = this.subOfTopic.get(tp.topic);
    return sub && `${sub.id}_${tp.partition}`;
  }

  private async assign(tps: TopicPartition[]): Promise<void> {
    const fresh = new Map<string, { sub: Subtopology; partition: number }>();
    for (const tp of tps) {
      const id = this.taskIdOf(tp);
      if (!id || this.tasks.has(id)) continue;
      fresh.set(id, { sub: this.subOfTopic.get(tp.topic)!, partition: tp.partition });
    }
    if (fresh.size === 0) return;
    const created = [...fresh].map(([id, { sub, partition }]) => ({ id, task: new StreamTask(this.topology, sub, partition, this.host(id, partition)) }));
    // Under exactly_once a task resumes from its checkpoint, not from the group's committed
    // offsets: KafkaJS reads those without waiting for a just-committed transaction (no
    // require_stable), so they can lag behind what the state already holds.
    const checkpoints = this.config.guarantee === 'exactly_once' ? await this.readCheckpoints(new Set(created.map((c) => c.id))) : new Map<string, { last: Checkpoint; units: Set<string> }>();
    await this.restore(created.map((c) => c.task), checkpoints);
    for (const { id, task } of created) {
      task.initialize();
      const cp = checkpoints.get(id)?.last;
      for (const [topic, offset] of Object.entries(cp?.offsets ?? {})) task.consumed.set(topic, offset);
      this.tasks.set(id, { task, dedup: new Deduplicator(cp), skipBelow: new Map(Object.entries(cp?.offsets ?? {})) });
    }
    this.config.logger(`tasks assigned: ${created.map((c) => c.id).join(', ')}`);
  }

  private async revoke(tps: TopicPartition[]): Promise<void> {
    const ids = new Set(tps.map((tp) => this.taskIdOf(tp)).filter((id): id is string => id !== undefined && this.tasks.has(id)));
    if (ids.size === 0) return;
    try {
      await this.commit();
    } catch (e) {
      // The new owner reprocesses from the last commit; under exactly_once nothing of this one is visible.
      this.config.logger(`commit on revocation failed, dropping uncommitted work: ${errorMessage(e)}`);
      this.pending = [];
      this.changelog = [];
      for (const id of ids) this.closeTask(id);
      // The tasks kept lost their uncommitted work too: they must start again from their last commit.
      // (Dropping it silently, as before, lost their outputs; a non-retriable cause stops the application.)
      if (this.tasks.size > 0) throw new CommitFailure(`commit on revocation failed: ${errorMessage(e)}`, {}, { cause: e, retriable: isRetriable(e) });
      return;
    }
    for (const id of ids) this.closeTask(id);
    this.config.logger(`tasks revoked: ${[...ids].join(', ')}`);
  }

  private closeTask(id: string): void {
    const entry = this.tasks.get(id);
    this.tasks.delete(id);
    try { entry?.task.close(); } catch (e) { this.config.logger(`closing task ${id}: ${errorMessage(e)}`); }
  }

  private async readCheckpoints(ids: Set<string>): Promise<Map<string, { last: Checkpoint; units: Set<string> }>> {
    const out = new Map<string, { last: Checkpoint; units: Set<string> }>();
    await readToEnd({
      transport: this.config.transport, producer: this.plainProducer!, partitions: [{ topic: this.checkpointTopic(), partition: 0 }],
      groupPrefix: `${this.config.applicationId}-restore`,
      onRecord: (r) => {
        if (!r.value) return;
        const cp = JSON.parse(r.value.toString()) as Checkpoint;
        if (!ids.has(cp.task)) return;
        const entry = out.get(cp.task);
        if (entry) { entry.last = cp; entry.units.add(cp.unit); } else out.set(cp.task, { last: cp, units: new Set([cp.unit]) });
      },
    });
    return out;
  }

  private async restore(tasks: StreamTask[], checkpoints: Map<string, { units: Set<string> }>): Promise<void> {
    const targets = new Map<string, { task: StreamTask; store: StateStore }>();
    for (const task of tasks) {
      for (const [name, store] of task.stores) {
        if (!this.topology.stores.get(name)!.logging) continue;
        store.clear();
        targets.set(`${this.resolve(changelogName(name))}\u0000${task.partition}`, { task, store });
      }
    }
    if (targets.size === 0) return;
    const started = Date.now();
    const restored = new Map<string, number>();
    await readToEnd({
      transport: this.config.transport, producer: this.plainProducer!, groupPrefix: `${this.config.applicationId}-restore`,
      partitions: [...targets.keys()].map((k) => { const [topic, p] = k.split('\u0000'); return { topic: topic!, partition: Number(p) }; }),
      onRecord: (r) => {
        const target = targets.get(`${r.topic}\u0000${r.partition}`);
        if (!target || r.key === null) return;
        if (this.effectivelyOnce) {
          // Entries of a commit unit whose checkpoint never landed belong to a crashed attempt.
          const unit = r.headers[UNIT_HEADER]?.toString();
          if (!unit || !checkpoints.get(target.task.id)?.units.has(unit)) return;
        }
        target.store.restore(r.key, r.value);
        restored.set(target.task.id, (restored.get(target.task.id) ?? 0) + 1);
      },
    });
    for (const task of tasks) this.metrics.restored(task.id, restored.get(task.id) ?? 0, Date.now() - started);
  }

  // --- processing ---

  private host(taskId: string, partition: number): TaskHost {
    // Resolved once per store: `log` runs for every store write.
    const changelogTopics = new Map([...this.topology.stores.keys()].map((store) => [store, this.resolve(changelogName(store))]));
    return {
      applicationId: this.config.applicationId,
      stateDir: this.config.stateDir,
      errors: this.config.errors,
      emit: (record) => this.pending.push({ record, taskId }),
      log: (store, key, value, timestamp) => {
        const record = { topic: changelogTopics.get(store)!, partition, key, value, timestamp };
        this.checkChangelogEntry(record, store, taskId);
        this.changelog.push(record);
      },
      now: () => Date.now(),
      requestCommit: () => { this.commitRequested = true; },
      globalStore: (name) => this.globals?.store(name),
      // deadLettered counts the failure too.
      failed: (stage, deadLettered) => (deadLettered ? this.metrics.deadLettered(taskId, stage) : this.metrics.failed(taskId, stage)),
    };
  }

  private async handle(batch: RecordBatch): Promise<void> {
    if (this.state !== 'RUNNING' && this.state !== 'STARTING') return;
    const id = this.taskIdOf(batch);
    const entry = id === undefined ? undefined : this.tasks.get(id);
    // A batch of a partition revoked meanwhile: not committed, the new owner reads it again.
    if (!entry) return;
    const source = this.sourceOfTopic.get(batch.topic)!;
    const started = performance.now();
    const decoded: InputRecord[] = [];
    for (const r of batch.records) {
      if (isMarker(r)) continue;
      const floor = entry.skipBelow.get(r.topic);
      if (floor !== undefined && r.offset < floor) continue;
      if (this.effectivelyOnce && !entry.dedup.admit(r)) continue;
      const consumed = { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, headers: r.headers, raw: { key: r.key, value: r.value } };
      try {
        decoded.push({ ...consumed, ...(await decode(source, r)) });
      } catch (e) {
        // What decoded before it is processed first, so dead letters keep the input's order.
        entry.task.add(decoded.splice(0));
        entry.task.process();
        entry.task.rejectUndecodable(consumed, e);
      }
    }
    entry.task.add(decoded);
    entry.task.process();
    this.metrics.processed(id!, batch.records.length, performance.now() - started);
    const last = batch.records[batch.records.length - 1];
    if (last && batch.highWatermark !== undefined) this.metrics.lag(id!, `${batch.topic}/${batch.partition}`, Math.max(0, batch.highWatermark - last.offset - 1));
    await this.maybeCommit();
  }

  private async tick(): Promise<void> {
    if (this.state !== 'RUNNING' || this.recovering) return;
    const now = Date.now();
    for (const { task } of this.tasks.values()) task.punctuateWallClock(now);
    await this.maybeCommit();
    // Owning nothing is no stall: a later failure starts its own count.
    if (this.tasks.size === 0 && this.consumer?.assignment().length === 0) this.progressed();
  }

  private async maybeCommit(): Promise<void> {
    const due = Date.now() - this.lastCommit >= this.config.commitIntervalMs;
    if (due || this.commitRequested || this.pending.length + this.changelog.length > 10_000) await this.commit();
  }

  // --- commit ---

  private async commit(): Promise<void> {
    this.commitRequested = false;
    this.lastCommit = Date.now();
    const positions = [];
    for (const { task } of this.tasks.values()) {
      for (const [topic, offset] of task.consumed) positions.push({ topic, partition: task.partition, offset });
    }
    const moved = positions.filter((p) => this.committedPositions.get(`${p.topic}\u0000${p.partition}`) !== p.offset);
    if (this.pending.length === 0 && this.changelog.length === 0 && moved.length === 0) { this.progressed(); return; }
    const started = performance.now();
    const outputs = await this.withinLimits(this.pending, await this.serialize(this.pending));
    const changelog = this.changelog;
    this.pending = [];
    this.changelog = [];
    try {
      if (this.transactional) {
        await this.producer!.sendTransaction([...outputs, ...changelog, ...this.checkpoints('')], { groupId: this.config.applicationId, offsets: positions });
      } else if (this.effectivelyOnce) {
        const unit = `${this.incarnation}:${this.unitSeq++}`;
        const tagged = changelog.map((r) => ({ ...r, headers: { ...r.headers, [UNIT_HEADER]: unit } }));
        await this.producer!.send([...outputs, ...tagged]);
        await this.producer!.send(this.checkpoints(unit));
        await this.commitPositions(positions);
      } else {
        if (outputs.length + changelog.length > 0) await this.producer!.send([...outputs, ...changelog]);
        await this.commitPositions(positions);
      }
    } catch (e) {
      for (const id of this.tasks.keys()) this.metrics.failed(id, 'commit');
      throw new CommitFailure(`commit of ${outputs.length} outputs, ${changelog.length} changelog entries and ${positions.length} positions failed: ${errorMessage(e)}`, {}, { cause: e });
    }
    for (const p of positions) this.committedPositions.set(`${p.topic}\u0000${p.partition}`, p.offset);
    for (const id of this.tasks.keys()) this.metrics.committed(id, performance.now() - started);
    this.progressed();
  }

  /** A commit of running tasks went through: the stall count (taskTimeoutMs) starts afresh. */
  private progressed(): void {
    if (this.recovering || this.stalledSince === undefined) return;
    if (this.tasks.size === 0 && (this.consumer?.assignment().length ?? 0) > 0) return;
    this.config.logger(`recovered after ${Date.now() - this.stalledSince} ms`);
    this.stalledSince = undefined;
  }

  private checkpoints(unit: string): ProducerRecord[] {
    return [...this.tasks.entries()].map(([id, e]): ProducerRecord => {
      const cp: Checkpoint = { task: id, unit, offsets: Object.fromEntries(e.task.consumed), seen: e.dedup.snapshot() };
      return { topic: this.checkpointTopic(), partition: 0, key: Buffer.from(id), value: Buffer.from(JSON.stringify(cp)) };
    });
  }

  private async commitPositions(positions: { topic: string; partition: number; offset: number }[]): Promise<void> {
    const owned = new Set(this.consumer!.assignment().map((tp) => `${tp.topic}\u0000${tp.partition}`));
    const mine = positions.filter((p) => owned.has(`${p.topic}\u0000${p.partition}`));
    if (mine.length > 0) await this.consumer!.commit(mine);
  }

  private async serialize(pending: readonly Pending[]): Promise<ProducerRecord[]> {
    const out: ProducerRecord[] = [];
    for (const { record: r, taskId } of pending) {
      const key = r.key === null || r.key === undefined ? null : r.keySerde ? await r.keySerde.serialize(r.topic, r.key) : (r.key as Buffer);
      const value = r.value === null || r.value === undefined ? null : r.valueSerde ? await r.valueSerde.serialize(r.topic, r.value) : (r.value as Buffer);
      let partition: number | undefined;
      const count = this.partitions.get(r.topic);
      if (r.partitioner && count !== undefined) partition = r.partitioner(r.key, r.value, count);
      else if (count !== undefined && key !== null) partition = partitionForKey(key, count);
      const headers = this.effectivelyOnce && r.origin
        ? { ...r.headers, [ORIGIN_HEADER]: encodeOrigin({ writer: taskId, ...r.origin }) }
        : r.headers;
      out.push({ topic: r.topic, key, value, headers, timestamp: r.timestamp, partition });
    }
    return out;
  }

  // --- record limits ---

  private changelogTopics(): string[] {
    const out: string[] = [];
    for (const sub of this.subtopologies) {
      for (const store of sub.stores) if (this.topology.stores.get(store)!.logging) out.push(this.resolve(changelogName(store)));
    }
    return out;
  }

  private async recordLimit(topic: string): Promise<number> {
    let limit = this.recordLimits.get(topic);
    if (limit === undefined) {
      limit = await this.producer!.maxRecordBytes(topic);
      this.recordLimits.set(topic, limit);
    }
    return limit;
  }

  /**
   * A store write whose changelog entry the transport would refuse. The store already holds it
   * (stores log after writing) and a skipped entry would leave the store ahead of its changelog,
   * so that a restore loses the write silently: the task stops instead, naming store and sizes.
   */
  private checkChangelogEntry(record: ProducerRecord, store: string, taskId: string): void {
    const limit = this.recordLimits.get(record.topic);
    if (limit === undefined) return;
    // Effectively-once adds its commit unit header at commit time.
    const size = this.producer!.recordSize(record) + (this.effectivelyOnce ? UNIT_HEADER.length + 48 : 0);
    if (size <= limit) return;
    throw new RecordTooLargeFailure(
      `changelog entry of store ${store} is ${size} bytes, over the limit of ${limit} bytes of ${record.topic}; the store cannot stay in step with its changelog, so the task stops (raise the topic's max.message.bytes or keep smaller values)`,
      size, limit, { taskId, topic: record.topic, partition: record.partition });
  }

  /**
   * Outputs the transport would refuse, each alone over its topic's limit, leave the commit under
   * the `production` policy (default: to the dead-letter topic with size and limit), so that one
   * record neither fails the commit nor stops the task.
   */
  private async withinLimits(pending: readonly Pending[], outputs: ProducerRecord[]): Promise<ProducerRecord[]> {
    const limits = new Map<string, number>();
    for (const topic of new Set(outputs.map((r) => r.topic))) limits.set(topic, await this.recordLimit(topic));
    let out: ProducerRecord[] | undefined;
    for (let i = 0; i < outputs.length; i++) {
      const r = outputs[i]!;
      const limit = limits.get(r.topic)!;
      const size = this.producer!.recordSize(r);
      if (size <= limit) { out?.push(r); continue; }
      out ??= outputs.slice(0, i);
      const { taskId, record } = pending[i]!;
      const failure = new RecordTooLargeFailure(`output of ${size} bytes is over the limit of ${limit} bytes of topic ${r.topic}`, size, limit, {
        taskId, topic: record.origin?.topic, partition: record.origin?.partition, offset: record.origin?.offset,
      });
      const policy = this.config.errors.production;
      if (policy === 'fail') throw new CommitFailure(failure.message, failure.context, { cause: failure });
      this.config.logger(`production failure, ${policy === 'dead-letter' ? 'sent to dead letters' : 'skipped'}: ${failure.message}`);
      if (policy !== 'dead-letter') { this.metrics.failed(taskId, 'production'); continue; }
      this.metrics.deadLettered(taskId, 'production');
      const dlq = this.config.errors.deadLetterTopic;
      await (this.deadLetters ??= this.config.transport.admin().createTopics([{ name: dlq, partitions: 1, kind: 'replayable' }])
        .catch((e: unknown) => { this.deadLetters = undefined; throw e; }));
      out.push(oversizedDeadLetter(dlq, failure, r, record.origin, taskId, await this.recordLimit(dlq), (d) => this.producer!.recordSize(d)));
    }
    return out ?? outputs;
  }

  // --- lifecycle ---

  private inLane<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lane.then(async () => {
      if (this.failure) throw this.failure;
      return fn();
    });
    this.lane = run.then(() => undefined, (e: unknown) => { this.laneError(asError(e)); });
    return run;
  }

  /** A failure in the lane or of a consumer: re-initialise when it may pass, else stop. */
  private laneError(error: Error): void {
    if (this.failure || this.state === 'CLOSED') return;
    if (this.state === 'RUNNING' && this.config.taskTimeoutMs > 0 && isRetriable(error)) this.recover(error);
    else this.fail(error);
  }

  private recover(cause: Error): void {
    // From now on the consumer's batches and callbacks are ignored: its positions are past input
    // whose effects are being dropped, so only a new consumer, from the committed positions, may go on.
    this.generation++;
    this.stalledSince ??= Date.now();
    if (this.recovering) { this.recoverAgain = cause; return; }
    this.recovering = true;
    void this.recoverLoop(cause);
  }

  private async recoverLoop(cause: Error): Promise<void> {
    const { taskTimeoutMs, retryBackoffMs, retryBackoffMaxMs } = this.config;
    try {
      for (let attempt = 0; ; attempt++) {
        const stalled = Date.now() - this.stalledSince!;
        if (stalled >= taskTimeoutMs) { this.fail(new TaskTimeoutFailure(taskTimeoutMs, stalled, cause)); return; }
        const wait = Math.min(retryBackoffMaxMs, retryBackoffMs * 2 ** Math.min(attempt, 30)) * (0.8 + Math.random() * 0.4);
        this.config.logger(`retriable failure, re-initialising tasks from their last commit in ${Math.round(wait)} ms (attempt ${attempt + 1}, ${stalled} ms without progress): ${errorMessage(cause)}`);
        await sleep(Math.min(wait, taskTimeoutMs - stalled));
        if (this.state !== 'RUNNING' || this.failure) return;
        if (Date.now() - this.stalledSince! >= taskTimeoutMs) continue;
        this.recoverAgain = undefined;
        try {
          await this.reinitialise();
        } catch (e) {
          if (this.state !== 'RUNNING' || this.failure) return;
          if (!isRetriable(e)) { this.fail(asError(e)); return; }
          cause = asError(e);
          continue;
        }
        if (this.recoverAgain === undefined) return;
        cause = this.recoverAgain;
      }
    } finally {
      this.recovering = false;
    }
  }

  /** As on a rebalance: tasks closed dirty, uncommitted work dropped, new clients, tasks restored on assignment. */
  private async reinitialise(): Promise<void> {
    const old = this.consumer;
    this.consumer = undefined;
    await quietly(old?.disconnect());
    await this.inLane(() => {
      this.pending = [];
      this.changelog = [];
      this.commitRequested = false;
      this.committedPositions.clear();
      for (const id of [...this.tasks.keys()]) this.closeTask(id);
    });
    if (this.producer !== this.plainProducer) await quietly(this.producer?.disconnect());
    await quietly(this.plainProducer?.disconnect());
    await this.connectProducers();
    if (this.globalsFailed) {
      this.globalsFailed = false;
      const consumer = this.globalConsumer;
      this.globalConsumer = undefined;
      await quietly(consumer?.disconnect());
      if (this.globalGroup) await quietly(this.config.transport.admin().deleteGroups([this.globalGroup]));
      this.globals?.close();
      this.globals = undefined;
      await this.startGlobals().catch((e: unknown) => { this.globalsFailed = true; throw e; });
    }
    if (this.state !== 'RUNNING') return;
    await this.startConsumer();
    // Closed meanwhile: what this started must not outlive the application.
    if (this.state !== 'RUNNING') await this.teardown();
  }

  private fail(error: Error): void {
    if (this.failure || this.state === 'CLOSED') return;
    this.failure = error;
    this.state = 'ERROR';
    this.config.logger(`stopped by error: ${error.message}`);
    clearInterval(this.timer);
    void this.teardown().finally(() => this.done.reject(error));
  }

  private async teardown(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.globalConsumer?.disconnect().catch(() => undefined);
    if (this.globalGroup) await this.config.transport.admin().deleteGroups([this.globalGroup]).catch(() => undefined);
    for (const { task } of this.tasks.values()) {
      try { task.close(); } catch (e) { this.config.logger(`closing task ${task.id}: ${errorMessage(e)}`); }
    }
    this.tasks.clear();
    this.globals?.close();
    if (this.producer !== this.plainProducer) await this.producer?.disconnect().catch(() => undefined);
    await this.plainProducer?.disconnect().catch(() => undefined);
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Closing a client of a broker that is away: bounded, and its failure is no news. */
async function quietly(closing: Promise<void> | undefined): Promise<void> {
  if (!closing) return;
  await withTimeout(closing, 10_000, () => new Error('close timed out')).catch(() => undefined);
}

/** A consumed record's key and value through its source's serdes (null stays null). */
async function decode(source: SourceNode, r: ConsumedRecord): Promise<{ key: unknown; value: unknown }> {
  const key = r.key === null ? null : await source.keySerde.deserialize(r.topic, r.key);
  const value = r.value === null ? null : await source.valueSerde.deserialize(r.topic, r.value);
  return { key, value };
}
