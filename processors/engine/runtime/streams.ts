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
import type { ConsumedRecord, Consumer, Producer, ProducerRecord, RecordBatch, TopicDescription, TopicPartition } from '../../../transports/index.ts';
import { sleep, tpKey, withTimeout } from '../../../transports/util.ts';
import { CommitFailure, DeserializationFailure, ProcessingFailure, StreamsError, TaskTimeoutFailure, errorMessage, isRetriable } from '../errors.ts';
import type { StateStore } from '../stores/store.ts';
import { changelogName, resolveTopic, type SourceNode, type Subtopology, type Topology } from '../topology.ts';
import { StoreChangelogReader } from './changelog-reader.ts';
import { commitProtocol, type CommitProtocol } from './commit-protocol.ts';
import { resolveConfig, type ResolvedConfig, type StreamsConfig } from './config.ts';
import { Deduplicator, checkpointRecord, type Checkpoint } from './effectively-once.ts';
import { applyPolicy, deadLetterRecord } from './error-handling.ts';
import { GLOBAL_TASK, GlobalStores } from './global-stores.ts';
import { Metrics } from './metrics.ts';
import { isMarker, readToEnd } from './read-to-end.ts';
import { RecordCollector } from './record-collector.ts';
import { StoreSnapshots } from './snapshots.ts';
import { StreamTask, type InputRecord, type TaskHost } from './task.ts';
import { changelogTopics, planTopics, routeTopics, type TopicRouting } from './topic-plan.ts';
import { internals } from '../internals.ts';

export type StreamsState = 'CREATED' | 'STARTING' | 'RUNNING' | 'ERROR' | 'CLOSED';

/**
 * Where the broker does not compact, a checkpoint partition keeps about this much: a restore
 * needs only a task's latest checkpoint, the last record of a partition only its owner writes,
 * and retention never removes a stream's active segment.
 */
const CHECKPOINT_RETENTION = { retentionBytes: 8 * 1024 * 1024, segmentBytes: 1024 * 1024 };

interface TaskEntry {
  readonly task: StreamTask;
  readonly dedup: Deduplicator;
  /** Input below these offsets is already in the task's state (effectively-once restore). */
  readonly skipBelow: Map<string, number>;
  /** The task's own partition of its sub-topology's checkpoint topic. */
  readonly checkpointAt: TopicPartition;
  /** Landed units of epochs before this assignment, until every logged store has a snapshot of its own. */
  carried: Record<string, number>;
  /** Logged stores not yet snapshotted since the assignment (while any is, `carried` stays). */
  readonly unsnapped: Set<string>;
}

export class StreamsApp {
  #state: StreamsState = 'CREATED';
  readonly config: ResolvedConfig;
  readonly metrics = new Metrics();
  private readonly routing: TopicRouting;
  private readonly tasks = new Map<string, TaskEntry>();
  /** Partition count per topic, from the plan (the collector partitions outputs by it). */
  private readonly partitions = new Map<string, number>();
  private readonly committedPositions = new Map<string, number>();
  private readonly collector: RecordCollector;
  private readonly changelogReader: StoreChangelogReader;
  /** Where the transport does not compact: stores written whole now and then, restores start there. */
  private readonly snapshots: StoreSnapshots | undefined;
  private readonly protocol: CommitProtocol;
  private lane: Promise<void> = Promise.resolve();
  private producer: Producer | undefined;
  private plainProducer: Producer | undefined;
  private consumer: Consumer | undefined;
  private globalConsumer: Consumer | undefined;
  private globalGroup: string | undefined;
  private globals: GlobalStores | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Armed after each batch (idleCommitMs): fires only if no other batch came meanwhile. */
  private idleTimer: NodeJS.Timeout | undefined;
  private lastCommit = Date.now();
  /** How long the last commit that wrote something took. */
  private lastCommitMs = 0;
  private commitRequested = false;
  private readonly incarnation = randomUUID().slice(0, 8);
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
    this.routing = routeTopics(topology, this.config.applicationId);
    const { transport, guarantee, applicationId } = this.config;
    const producer = () => this.producer!;
    this.collector = new RecordCollector({
      transport, producer, partitions: this.partitions, errors: this.config.errors, effectivelyOnce: this.effectivelyOnce,
      metrics: this.metrics, logger: this.config.logger,
    });
    const policy = this.config.snapshots;
    this.snapshots = policy && !transport.capabilities.compaction
      ? new StoreSnapshots({ transport, producer: () => this.plainProducer!, policy, groupPrefix: `${applicationId}-restore`, logger: this.config.logger })
      : undefined;
    this.changelogReader = new StoreChangelogReader({
      topology, applicationId, transport, producer: () => this.plainProducer!,
      effectivelyOnce: this.effectivelyOnce, metrics: this.metrics, stateDir: this.config.stateDir, snapshots: this.snapshots,
    });
    this.protocol = commitProtocol(guarantee, transport.capabilities, {
      groupId: applicationId, producer, consumer: () => this.consumer!, incarnation: this.incarnation,
    });
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    promise.catch(() => undefined);
    this.done = { promise, resolve, reject };
    this.metrics.recordsOutFrom(() => new Map([...this.tasks].map(([id, e]) => [id, e.task.recordsOut])));
    this.metrics.stateFrom(() => this.state);
  }

  /** CREATED → STARTING → RUNNING → CLOSED, or ERROR once a failure stopped it (Kafka Streams' `state()`). */
  get state(): StreamsState {
    return this.#state;
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
    this.#state = 'STARTING';
    try {
      await this.planTopics();
      await this.connectProducers();
      // Changelog entries are checked as the store writes them, synchronously: their limits first.
      await this.collector.loadLimits(changelogTopics(this.topology, this.routing, this.config.applicationId));
      await this.startGlobals();
      await this.startConsumer();
      if (this.failure) throw this.failure;
      this.timer = setInterval(() => { void this.inLane(() => this.tick()).catch(() => undefined); }, this.config.tickMs);
      this.#state = 'RUNNING';
    } catch (e) {
      this.#state = 'ERROR';
      await this.teardown();
      throw e;
    }
  }

  /** Commits what is done, leaves the group, closes tasks and stores. */
  async close(): Promise<void> {
    if (this.state === 'CLOSED') return;
    clearInterval(this.timer);
    clearTimeout(this.idleTimer);
    // The final commit and the local checkpoints in one lane step, and CLOSED at once: no batch may
    // change a store after its final commit (its checkpoint would then not match its changelog).
    if (this.state === 'RUNNING') await this.inLane(async () => { await this.commit(); this.#state = 'CLOSED'; await this.checkpointStores([...this.tasks.keys()]); }).catch((e: unknown) => this.config.logger(`final commit failed: ${errorMessage(e)}`));
    this.#state = 'CLOSED';
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
    const names = [...internals(this.topology).internalTopics.keys()].map((t) => this.resolve(t));
    if (this.usesDeadLetters() || this.config.errors.production === 'dead-letter') names.push(this.config.errors.deadLetterTopic);
    if (this.config.guarantee === 'exactly_once') names.push(...this.routing.subtopologies.map((s) => this.checkpointTopic(s.id)));
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
      topics: [...this.routing.subOfTopic.keys()],
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

  /** Describes the topics the application needs, plans every count, creates its internal topics. */
  private async planTopics(): Promise<void> {
    const { transport, applicationId, defaultPartitions } = this.config;
    const admin = transport.admin();
    const described = new Map<string, TopicDescription | undefined>();
    for (const t of this.routing.external) described.set(t, await admin.describeTopic(t));
    const plan = planTopics(this.topology, this.routing, described, {
      applicationId, defaultPartitions,
      deadLetterTopic: this.usesDeadLetters() ? this.config.errors.deadLetterTopic : undefined,
      checkpointTopic: this.config.guarantee === 'exactly_once' ? (sub) => this.checkpointTopic(sub) : undefined,
      checkpointRetention: transport.capabilities.compaction ? undefined : CHECKPOINT_RETENTION,
      replayableInputs: this.effectivelyOnce ? { transport: transport.name } : undefined,
      compacted: transport.capabilities.compaction && !this.effectivelyOnce,
      changelogRetention: this.snapshots?.changelogRetention(),
    });
    await admin.createTopics([...plan.create]);
    for (const [t, n] of plan.partitions) this.partitions.set(t, n);
  }

  private usesDeadLetters(): boolean {
    return this.config.errors.deserialization === 'dead-letter' || this.config.errors.processing === 'dead-letter';
  }

  /** One per sub-topology, a partition per task: each partition has one writer, the task's owner. */
  private checkpointTopic(subtopology: number): string {
    return `${this.config.applicationId}-${subtopology}-checkpoints`;
  }

  private async startGlobals(): Promise<void> {
    if (internals(this.topology).globalStores.size === 0) return;
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

  /**
   * One record of a global store's topic. A record that cannot be decoded or applied meets the
   * application's error policies as a task's input does (fail, log and go on, or dead-letter with
   * the reason: every instance reads the whole topic, so each one that meets the record
   * dead-letters it, the source position in its headers). A failure that may pass (the registry
   * unreachable) costs no update: the global stores are read again once the application recovers.
   */
  private async applyGlobal(r: ConsumedRecord): Promise<void> {
    const source = this.globals!.source(r.topic)!;
    const at = { topic: r.topic, partition: r.partition, offset: r.offset, taskId: GLOBAL_TASK };
    let decoded: { key: unknown; value: unknown };
    try {
      decoded = await decode(source, r);
    } catch (e) {
      const retriable = isRetriable(e);
      const failure = e instanceof DeserializationFailure ? e : new DeserializationFailure(`cannot deserialize: ${errorMessage(e)}`, at, { cause: e, retriable });
      if (retriable) { this.globalsFailed = true; this.laneError(failure); return; }
      await this.globalFailure('deserialization', failure, r);
      return;
    }
    try {
      this.globals!.apply(r.topic, { ...decoded, timestamp: r.timestamp, headers: r.headers }, r.offset, r.partition);
    } catch (e) {
      await this.globalFailure('processing', new ProcessingFailure(`global store update failed: ${errorMessage(e)}`, at, { cause: e }), r);
    }
  }

  private async globalFailure(stage: 'deserialization' | 'processing', failure: StreamsError, r: ConsumedRecord): Promise<void> {
    let deadLetter: boolean;
    try {
      deadLetter = applyPolicy(this.config.errors, stage, failure, (deadLettered) => this.countFailure(GLOBAL_TASK, stage, deadLettered));
    } catch (e) {
      this.laneError(asError(e));
      return;
    }
    if (!deadLetter) return;
    const letter = deadLetterRecord(this.config.errors.deadLetterTopic, stage, failure, { ...r, raw: { key: r.key, value: r.value } }, GLOBAL_TASK);
    try {
      await this.plainProducer!.send([{ topic: letter.topic, partition: 0, key: letter.key as Buffer | null, value: letter.value as Buffer | null, headers: letter.headers, timestamp: letter.timestamp }]);
    } catch (e) {
      // Unsent, the record would be lost to the dead letters: read the global topics again once recovered.
      this.globalsFailed = true;
      this.laneError(asError(e));
    }
  }

  // --- rebalance ---

  private taskIdOf(tp: TopicPartition): string | undefined {
    const sub = this.routing.subOfTopic.get(tp.topic);
    return sub && `${sub.id}_${tp.partition}`;
  }

  private async assign(tps: TopicPartition[]): Promise<void> {
    const fresh = new Map<string, { sub: Subtopology; partition: number }>();
    for (const tp of tps) {
      const id = this.taskIdOf(tp);
      if (!id || this.tasks.has(id)) continue;
      fresh.set(id, { sub: this.routing.subOfTopic.get(tp.topic)!, partition: tp.partition });
    }
    if (fresh.size === 0) return;
    const created = [...fresh].map(([id, { sub, partition }]) => ({ id, task: new StreamTask(this.topology, sub, partition, this.host(id, partition)) }));
    // Under exactly_once a task resumes from its checkpoint, not from the group's committed
    // offsets: KafkaJS reads those without waiting for a just-committed transaction (no
    // require_stable), so they can lag behind what the state already holds.
    const at = new Map([...fresh].map(([id, { sub, partition }]) => [id, { topic: this.checkpointTopic(sub.id), partition }]));
    const checkpoints = this.config.guarantee === 'exactly_once'
      ? await this.changelogReader.readCheckpoints(at)
      : new Map<string, Checkpoint>();
    await this.changelogReader.restore(created.map((c) => c.task), checkpoints);
    for (const { id, task } of created) {
      task.initialize();
      const cp = checkpoints.get(id);
      for (const [topic, offset] of Object.entries(cp?.offsets ?? {})) task.consumed.set(topic, offset);
      // Without logged stores no changelog entry is ever filtered by unit: nothing to carry.
      const logged = [...task.stores.keys()].filter((name) => this.changelogOf(name, task.partition) !== undefined);
      this.tasks.set(id, {
        task, dedup: new Deduplicator(cp), skipBelow: new Map(Object.entries(cp?.offsets ?? {})), checkpointAt: at.get(id)!,
        carried: logged.length > 0 ? { ...cp?.units } : {}, unsnapped: new Set(logged),
      });
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
      this.collector.drop();
      for (const id of ids) this.closeTask(id);
      // The tasks kept lost their uncommitted work too: they must start again from their last commit.
      // (Dropping it silently, as before, lost their outputs; a non-retriable cause stops the application.)
      if (this.tasks.size > 0) throw new CommitFailure(`commit on revocation failed: ${errorMessage(e)}`, {}, { cause: e, retriable: isRetriable(e) });
      return;
    }
    await this.checkpointStores([...ids]);
    for (const id of ids) this.closeTask(id);
    this.config.logger(`tasks revoked: ${[...ids].join(', ')}`);
  }

  /** Clean close of tasks: their persistent stores' local checkpoints; without one the next start restores in full. */
  private async checkpointStores(ids: readonly string[]): Promise<void> {
    const tasks = ids.map((id) => this.tasks.get(id)?.task).filter((t): t is StreamTask => t !== undefined);
    await this.changelogReader.checkpoint(tasks).catch((e: unknown) => this.config.logger(`local checkpoint not written: ${errorMessage(e)}`));
  }

  private closeTask(id: string): void {
    const entry = this.tasks.get(id);
    this.tasks.delete(id);
    for (const name of entry?.task.stores.keys() ?? []) {
      const tp = this.changelogOf(name, entry!.task.partition);
      if (tp) this.snapshots?.forget(tp);
    }
    try { entry?.task.close(); } catch (e) { this.config.logger(`closing task ${id}: ${errorMessage(e)}`); }
  }

  // --- processing ---

  /** A record a policy skipped or dead-lettered (deadLettered counts the failure too). */
  private countFailure(taskId: string, stage: 'deserialization' | 'processing', deadLettered: boolean): void {
    if (deadLettered) this.metrics.deadLettered(taskId, stage); else this.metrics.failed(taskId, stage);
  }

  private host(taskId: string, partition: number): TaskHost {
    // Resolved once per store: `log` runs for every store write.
    const changelogTopics = new Map([...internals(this.topology).stores.keys()].map((store) => [store, this.resolve(changelogName(store))]));
    return {
      applicationId: this.config.applicationId,
      stateDir: this.config.stateDir,
      errors: this.config.errors,
      emit: (record) => this.collector.emit(record, taskId),
      log: (store, key, value, timestamp) => this.collector.log({ topic: changelogTopics.get(store)!, partition, key, value, timestamp }, store, taskId),
      now: () => Date.now(),
      requestCommit: () => { this.commitRequested = true; },
      globalStore: (name) => this.globals?.store(name),
      failed: (stage, deadLettered) => this.countFailure(taskId, stage, deadLettered),
    };
  }

  private async handle(batch: RecordBatch): Promise<void> {
    if (this.state !== 'RUNNING' && this.state !== 'STARTING') return;
    const id = this.taskIdOf(batch);
    const entry = id === undefined ? undefined : this.tasks.get(id);
    // A batch of a partition revoked meanwhile: not committed, the new owner reads it again.
    if (!entry) return;
    const source = this.routing.sourceOfTopic.get(batch.topic)!;
    const started = performance.now();
    const decoded: InputRecord[] = [];
    for (const r of batch.records) {
      if (isMarker(r)) continue;
      const floor = entry.skipBelow.get(r.topic);
      if (floor !== undefined && r.offset < floor) continue;
      if (this.effectivelyOnce && !entry.dedup.admit(r)) continue;
      const raw = { key: r.key, value: r.value };
      try {
        // Awaited only when a serde is asynchronous (Avro with a registry): an await per record
        // costs a microtask turn each, which synchronous serdes need not pay.
        let key = r.key === null ? null : source.keySerde.deserialize(r.topic, r.key);
        if (key instanceof Promise) key = await key;
        let value = r.value === null ? null : source.valueSerde.deserialize(r.topic, r.value);
        if (value instanceof Promise) value = await value;
        decoded.push({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, headers: r.headers, raw, key, value });
      } catch (e) {
        // What decoded before it is processed first, so dead letters keep the input's order.
        entry.task.add(decoded.splice(0));
        entry.task.process();
        entry.task.rejectUndecodable({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, headers: r.headers, raw }, e);
      }
    }
    entry.task.add(decoded);
    entry.task.process();
    this.metrics.processed(id!, batch.records.length, performance.now() - started);
    const last = batch.records[batch.records.length - 1];
    if (last && batch.highWatermark !== undefined) this.metrics.lag(id!, `${batch.topic}/${batch.partition}`, Math.max(0, batch.highWatermark - last.offset - 1));
    await this.maybeCommit();
    this.armIdleCommit();
  }

  /**
   * A commit once the input pauses: the next batch, if one comes first, re-arms it. The pause
   * must also be as long as the last commit took, so that on a slow broker a trickle of small
   * batches does not spend the lane on commits (at most about half its time).
   */
  private armIdleCommit(): void {
    clearTimeout(this.idleTimer);
    if (this.config.idleCommitMs <= 0) return;
    const generation = this.generation;
    const wait = Math.max(this.config.idleCommitMs, this.lastCommitMs);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      void this.inLane(() => (this.state === 'RUNNING' && !this.recovering && generation === this.generation ? this.commit() : undefined)).catch(() => undefined);
    }, wait);
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
    if (due || this.commitRequested || this.collector.size > 10_000) await this.commit();
  }

  // --- commit ---

  private async commit(): Promise<void> {
    this.commitRequested = false;
    this.lastCommit = Date.now();
    const positions = [];
    for (const { task } of this.tasks.values()) {
      for (const [topic, offset] of task.consumed) positions.push({ topic, partition: task.partition, offset });
    }
    const moved = positions.some((p) => this.committedPositions.get(tpKey(p)) !== p.offset);
    if (this.collector.size === 0 && !moved) { this.progressed(); return; }
    const started = performance.now();
    const { outputs, changelog } = await this.collector.drain();
    try {
      await this.protocol.commit({ outputs, changelog, positions, checkpoints: (unit) => this.checkpoints(unit) });
    } catch (e) {
      for (const id of this.tasks.keys()) this.metrics.failed(id, 'commit');
      throw new CommitFailure(`commit of ${outputs.length} outputs, ${changelog.length} changelog entries and ${positions.length} positions failed: ${errorMessage(e)}`, {}, { cause: e });
    }
    this.changelogReader.committed(changelog);
    for (const p of positions) this.committedPositions.set(tpKey(p), p.offset);
    this.lastCommitMs = performance.now() - started;
    for (const id of this.tasks.keys()) this.metrics.committed(id, this.lastCommitMs);
    this.progressed();
    await this.snapshotDue();
  }

  /**
   * Right after a commit, before anything is processed, each store holds exactly what its
   * changelog holds up to its end: then a store whose changelog grew enough past its latest
   * snapshot is written whole. A failed snapshot costs nothing but its retry after the next commit.
   */
  private async snapshotDue(): Promise<void> {
    const snapshots = this.snapshots;
    if (!snapshots) return;
    for (const entry of this.tasks.values()) {
      const { task } = entry;
      for (const [name, store] of task.stores) {
        const tp = this.changelogOf(name, task.partition);
        if (!tp || !snapshots.due(tp, store)) continue;
        const from = this.changelogReader.end(tp);
        if (from === undefined) continue;
        const started = performance.now();
        try {
          const n = await snapshots.write(tp, store, from);
          this.config.logger(`snapshot of store ${name} of task ${task.id}: ${n} entries, changelog offset ${from}, ${Math.round(performance.now() - started)} ms`);
          // Every entry of an earlier epoch now lies below a snapshot a restore starts from.
          entry.unsnapped.delete(name);
          if (entry.unsnapped.size === 0) entry.carried = {};
        } catch (e) {
          this.config.logger(`snapshot of store ${name} of task ${task.id} failed, tried again after the next commit: ${errorMessage(e)}`);
        }
      }
    }
  }

  /** The changelog partition of a logged store of the task on `partition`. */
  private changelogOf(store: string, partition: number): TopicPartition | undefined {
    if (!internals(this.topology).stores.get(store)?.logging) return undefined;
    return { topic: this.resolve(changelogName(store)), partition };
  }

  /** A commit of running tasks went through: the stall count (taskTimeoutMs) starts afresh. */
  private progressed(): void {
    if (this.recovering || this.stalledSince === undefined) return;
    if (this.tasks.size === 0 && (this.consumer?.assignment().length ?? 0) > 0) return;
    this.config.logger(`recovered after ${Date.now() - this.stalledSince} ms`);
    this.stalledSince = undefined;
  }

  private checkpoints(unit: string): ProducerRecord[] {
    return [...this.tasks].map(([id, e]) => checkpointRecord(e.checkpointAt, unit, { task: id, consumed: e.task.consumed, dedup: e.dedup, carried: e.carried }));
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
      this.collector.drop();
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
    this.#state = 'ERROR';
    this.config.logger(`stopped by error: ${error.message}`);
    clearInterval(this.timer);
    clearTimeout(this.idleTimer);
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
