/**
 * A task: one partition's instance of a sub-topology. It buffers input per source partition,
 * processes records in timestamp order across them, keeps stream time, fires punctuators, and
 * hands outputs and changelog entries to its host (the runtime or the test driver), which does
 * the I/O. Everything here is synchronous and deterministic.
 */
import { DeserializationFailure, ProcessingFailure, RecordTooLargeFailure, StreamsError, TopologyError, errorMessage } from '../errors.ts';
import type { Cancellable, Processor, ProcessorContext, Punctuator, PunctuationType } from '../processor.ts';
import type { Headers, RecordMetadata, StreamRecord } from '../record.ts';
import type { Serde } from '../serde.ts';
import type { StateStore, StoreContext } from '../stores/store.ts';
import { resolveTopic, type ProcessorNode, type SinkNode, type SourceNode, type Subtopology, type Topology } from '../topology.ts';
import { applyPolicy, deadLetterRecord, type ErrorHandling } from './error-handling.ts';
import { internals, type TopologyGraph } from '../internals.ts';

export interface InputRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
  readonly headers: Headers;
  /** The bytes as consumed, for dead letters. */
  readonly raw?: { readonly key: Buffer | null; readonly value: Buffer | null };
}

/** A record for a sink topic: typed with its serdes, or already bytes (dead letters). */
export interface OutputRecord {
  readonly topic: string;
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
  readonly headers: Headers;
  readonly keySerde?: Serde<unknown>;
  readonly valueSerde?: Serde<unknown>;
  readonly partitioner?: (key: unknown, value: unknown, partitions: number) => number;
  /** Set for records that are written through; the test driver routes them to a downstream task. */
  readonly internal: boolean;
  /** The input record that caused it and its place among that record's outputs (none for punctuation). */
  readonly origin?: { readonly topic: string; readonly partition: number; readonly offset: number; readonly seq: number };
}

export interface TaskHost {
  readonly applicationId: string;
  readonly stateDir: string;
  readonly errors: ErrorHandling;
  emit(record: OutputRecord): void;
  /** A changelog entry of one of the task's stores. */
  log(store: string, key: Buffer, value: Buffer | null, timestamp: number): void;
  now(): number;
  requestCommit(): void;
  globalStore(name: string): StateStore | undefined;
  /** A record the error policy handled instead of failing (metrics: failures, dead letters). */
  failed?(stage: 'deserialization' | 'processing', deadLettered: boolean): void;
}

interface Schedule {
  readonly intervalMs: number;
  readonly type: PunctuationType;
  readonly punctuator: Punctuator;
  readonly node: string;
  next: number | undefined;
  cancelled: boolean;
}

export class StreamTask {
  readonly id: string;
  readonly stores = new Map<string, StateStore>();
  private readonly processors = new Map<string, Processor<unknown, unknown, unknown, unknown>>();
  private readonly contexts = new Map<string, NodeContext>();
  private readonly queues = new Map<string, InputRecord[]>();
  private readonly sourceByTopic = new Map<string, SourceNode>();
  private readonly schedules: Schedule[] = [];
  /** Next offset to read, per input topic, after what has been processed. */
  readonly consumed = new Map<string, number>();
  private current: InputRecord | undefined;
  private outputSeq = 0;
  private streamTime = -1;
  recordsIn = 0;
  recordsOut = 0;
  // Looked up once: forward, deliver and sink read it for every record.
  private readonly graph: TopologyGraph;

  constructor(
    readonly topology: Topology,
    readonly subtopology: Subtopology,
    readonly partition: number,
    private readonly host: TaskHost,
  ) {
    this.id = `${subtopology.id}_${partition}`;
    this.graph = internals(topology);
    for (const name of subtopology.nodes) {
      const node = this.graph.nodes.get(name)!;
      if (node.kind === 'source') for (const t of node.topics) this.sourceByTopic.set(this.resolve(t), node);
    }
    for (const storeName of subtopology.stores) {
      const store = this.graph.stores.get(storeName)!.build();
      const logging = this.graph.stores.get(storeName)!.logging;
      const ctx: StoreContext = {
        applicationId: host.applicationId, taskId: this.id, partition, stateDir: `${host.stateDir}/${this.id}`,
        log: logging ? (k, v) => host.log(storeName, k, v, this.currentTimestamp()) : () => {},
        streamTime: () => this.streamTime,
      };
      store.init(ctx);
      this.stores.set(storeName, store);
    }
  }

  /** Topics this task reads, resolved. */
  inputTopics(): string[] {
    return [...this.sourceByTopic.keys()];
  }

  /** Instantiates processors and calls their `init`; after stores are restored. */
  initialize(): void {
    for (const name of this.subtopology.nodes) {
      const node = this.graph.nodes.get(name)!;
      const ctx = new NodeContext(this, node.name);
      this.contexts.set(name, ctx);
      if (node.kind === 'processor') this.processors.set(name, node.supplier());
    }
    for (const [name, p] of this.processors) this.guard(name, () => p.init?.(this.contexts.get(name)!));
  }

  close(): void {
    for (const [name, p] of this.processors) this.guard(name, () => p.close?.());
    for (const s of this.stores.values()) s.close();
  }

  add(records: readonly InputRecord[]): void {
    for (const r of records) {
      let q = this.queues.get(r.topic);
      if (!q) this.queues.set(r.topic, (q = []));
      q.push(r);
    }
  }

  buffered(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Processes everything buffered, lowest timestamp first across inputs. */
  process(): void {
    for (;;) {
      let best: InputRecord[] | undefined;
      for (const q of this.queues.values()) {
        if (q.length > 0 && (!best || q[0]!.timestamp < best[0]!.timestamp)) best = q;
      }
      if (!best) return;
      this.processOne(best.shift()!);
    }
  }

  /** Fires wall-clock punctuators that are due. */
  punctuateWallClock(now: number): void {
    this.punctuate('wall-clock-time', now);
  }

  /** A record whose bytes could not be deserialized: the policy decides, the offset moves on. */
  rejectUndecodable(r: Omit<InputRecord, 'key' | 'value'>, error: unknown): void {
    const failure = error instanceof DeserializationFailure ? error : new DeserializationFailure(
      `cannot deserialize: ${errorMessage(error)}`, { topic: r.topic, partition: r.partition, offset: r.offset, taskId: this.id }, { cause: error },
    );
    // A failure that may pass (the registry is unreachable) must not cost the record: stop, uncommitted.
    if ((error as { retriable?: unknown } | null)?.retriable === true) throw failure;
    this.markConsumed(r.topic, r.offset);
    this.handleFailure('deserialization', failure, r);
  }

  streamTimeNow(): number {
    return this.streamTime;
  }

  // --- inside processing ---

  forward(from: string, record: StreamRecord<unknown, unknown>, childName?: string): void {
    const node = this.graph.nodes.get(from)!;
    if (node.kind === 'sink') return;
    const children = childName === undefined ? node.children : node.children.filter((c) => c === childName);
    if (childName !== undefined && children.length === 0) throw new TopologyError(`${from} has no child named ${childName}`);
    for (const child of children) this.deliver(child, record);
  }

  getStore(node: string, name: string): StateStore {
    const def = this.graph.nodes.get(node) as ProcessorNode | undefined;
    if (!def || def.kind !== 'processor' || !def.stores.includes(name)) {
      throw new TopologyError(`processor ${node} is not connected to store ${name}`, { taskId: this.id });
    }
    const store = this.stores.get(name) ?? this.host.globalStore(name);
    if (!store) throw new TopologyError(`store ${name} is not available in task ${this.id}`);
    return store;
  }

  schedule(node: string, intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    if (!(intervalMs >= 1)) throw new TopologyError(`punctuation interval must be at least 1 ms, not ${intervalMs}`);
    const start = type === 'stream-time' ? this.streamTime : this.host.now();
    const s: Schedule = { intervalMs, type, punctuator, node, next: start < 0 ? undefined : start + intervalMs, cancelled: false };
    this.schedules.push(s);
    return { cancel: () => { s.cancelled = true; } };
  }

  metadata(): RecordMetadata | undefined {
    const c = this.current;
    return c ? { topic: c.topic, partition: c.partition, offset: c.offset } : undefined;
  }

  now(): number {
    return this.host.now();
  }

  requestCommit(): void {
    this.host.requestCommit();
  }

  applicationId(): string {
    return this.host.applicationId;
  }

  private processOne(r: InputRecord): void {
    const source = this.sourceByTopic.get(r.topic);
    if (!source) throw new StreamsError(`task ${this.id} got a record of ${r.topic}, which it does not read`);
    const base: StreamRecord<unknown, unknown> = { key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers };
    const timestamp = source.timestampExtractor ? source.timestampExtractor(base, this.streamTime) : r.timestamp;
    this.current = r;
    this.outputSeq = 0;
    this.recordsIn++;
    try {
      if (timestamp > this.streamTime) this.streamTime = timestamp;
      try {
        this.forward(source.name, { ...base, timestamp });
      } catch (e) {
        // A store write its changelog cannot carry: the store already holds it, so no policy may skip it.
        if (e instanceof RecordTooLargeFailure) throw e;
        const failure = e instanceof StreamsError ? e : new ProcessingFailure(`processing failed: ${errorMessage(e)}`, {
          topic: r.topic, partition: r.partition, offset: r.offset, taskId: this.id, key: keyText(r.key),
        }, { cause: e });
        this.handleFailure('processing', failure, r);
      }
      this.markConsumed(r.topic, r.offset);
    } finally {
      this.current = undefined;
    }
    this.punctuate('stream-time', this.streamTime);
  }

  private deliver(name: string, record: StreamRecord<unknown, unknown>): void {
    const node = this.graph.nodes.get(name)!;
    if (node.kind === 'sink') { this.sink(node, record); return; }
    const p = this.processors.get(name);
    if (!p) throw new TopologyError(`node ${name} is not a processor of task ${this.id}`);
    p.process(record);
  }

  private sink(node: SinkNode, record: StreamRecord<unknown, unknown>): void {
    this.recordsOut++;
    this.host.emit({
      topic: this.resolve(node.topic), key: record.key, value: record.value, timestamp: record.timestamp, headers: record.headers,
      keySerde: node.keySerde, valueSerde: node.valueSerde, partitioner: node.partitioner,
      internal: this.graph.internalTopics.has(node.topic),
      origin: this.current && { topic: this.current.topic, partition: this.current.partition, offset: this.current.offset, seq: this.outputSeq++ },
    });
  }

  private markConsumed(topic: string, offset: number): void {
    this.consumed.set(topic, Math.max(this.consumed.get(topic) ?? 0, offset + 1));
  }

  private punctuate(type: PunctuationType, time: number): void {
    for (const s of [...this.schedules]) {
      if (s.cancelled || s.type !== type || time < 0) continue;
      if (s.next === undefined) { s.next = time + s.intervalMs; continue; }
      if (time < s.next) continue;
      // Fired once however many intervals passed, then aligned past `time`, as Kafka Streams does.
      s.next += Math.floor((time - s.next) / s.intervalMs + 1) * s.intervalMs;
      this.guard(s.node, () => s.punctuator(time));
    }
    for (let i = this.schedules.length - 1; i >= 0; i--) if (this.schedules[i]!.cancelled) this.schedules.splice(i, 1);
  }

  private handleFailure(stage: 'deserialization' | 'processing', failure: StreamsError, r: Omit<InputRecord, 'key' | 'value'>): void {
    if (applyPolicy(this.host.errors, stage, failure, (deadLettered) => this.host.failed?.(stage, deadLettered))) {
      this.host.emit(deadLetterRecord(this.host.errors.deadLetterTopic, stage, failure, r, this.id));
    }
  }

  private guard(node: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof StreamsError) throw e;
      throw new ProcessingFailure(`processor ${node} failed: ${errorMessage(e)}`, { taskId: this.id, node }, { cause: e });
    }
  }

  private currentTimestamp(): number {
    return this.current?.timestamp ?? this.streamTime;
  }

  private resolve(topic: string): string {
    return resolveTopic(this.topology, this.host.applicationId, topic);
  }
}

function keyText(key: unknown): string | undefined {
  if (key === null || key === undefined) return undefined;
  return typeof key === 'string' ? key : Buffer.isBuffer(key) ? key.toString('hex') : JSON.stringify(key);
}

class NodeContext implements ProcessorContext<unknown, unknown> {
  constructor(private readonly task: StreamTask, private readonly node: string) {}
  get applicationId(): string { return this.task.applicationId(); }
  get taskId(): string { return this.task.id; }
  get partition(): number { return this.task.partition; }
  forward(record: StreamRecord<unknown, unknown>, childName?: string): void { this.task.forward(this.node, record, childName); }
  recordMetadata(): RecordMetadata | undefined { return this.task.metadata(); }
  getStateStore<S extends StateStore>(name: string): S { return this.task.getStore(this.node, name) as S; }
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    return this.task.schedule(this.node, intervalMs, type, punctuator);
  }
  currentStreamTime(): number { return this.task.streamTimeNow(); }
  currentSystemTime(): number { return this.task.now(); }
  commit(): void { this.task.requestCommit(); }
}
