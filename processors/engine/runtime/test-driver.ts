/**
 * Runs a topology synchronously in memory, as Kafka Streams' TopologyTestDriver: one task per
 * sub-topology (partition 0), records piped in are processed at once, records written to
 * internal (repartition) topics flow straight to the reading task, outputs are kept per topic.
 * Wall-clock time is virtual and moves only when told.
 */
import { TopologyError } from '../errors.ts';
import type { Headers, StreamRecord } from '../record.ts';
import type { StateStore } from '../stores/store.ts';
import { resolveTopic, type Topology } from '../topology.ts';
import { GlobalStores } from './global-stores.ts';
import type { ErrorHandling } from './error-handling.ts';
import { StreamTask, type OutputRecord, type TaskHost } from './task.ts';
import { internals } from '../internals.ts';

export interface TestDriverOptions {
  readonly applicationId?: string;
  /** Virtual wall-clock start, ms since the epoch. Default 0. */
  readonly wallClockStartMs?: number;
  readonly errors?: Partial<ErrorHandling>;
  readonly stateDir?: string;
}

export interface PipeOptions {
  /** Default: the driver's wall-clock time. */
  readonly timestamp?: number;
  readonly headers?: Headers;
}

export interface ChangelogEntry {
  readonly key: Buffer;
  readonly value: Buffer | null;
}

export class TopologyTestDriver {
  readonly applicationId: string;
  private readonly tasks: StreamTask[] = [];
  private readonly readers = new Map<string, StreamTask>();
  private readonly outputs = new Map<string, StreamRecord<unknown, unknown>[]>();
  private readonly changelogs = new Map<string, ChangelogEntry[]>();
  private readonly offsets = new Map<string, number>();
  private readonly globals: GlobalStores;
  private readonly pending: OutputRecord[] = [];
  private wallClock: number;
  private routing = false;

  constructor(private readonly topology: Topology, options: TestDriverOptions = {}) {
    topology.validate();
    this.applicationId = options.applicationId ?? 'test-driver';
    this.wallClock = options.wallClockStartMs ?? 0;
    const errors: ErrorHandling = {
      deserialization: 'fail', processing: 'fail', production: 'dead-letter', deadLetterTopic: `${this.applicationId}-dlq`, logger: () => {}, ...options.errors,
    };
    const stateDir = options.stateDir ?? `/tmp/orderstream-test-driver/${process.pid}-${Date.now()}`;
    this.globals = new GlobalStores(topology, this.applicationId, stateDir, () => this.wallClock);
    const host: TaskHost = {
      applicationId: this.applicationId, stateDir, errors,
      emit: (r) => this.pending.push(r),
      log: (store, key, value) => this.changelogOf(store).push({ key, value }),
      now: () => this.wallClock,
      requestCommit: () => {},
      globalStore: (name) => this.globals.store(name),
    };
    for (const sub of topology.subtopologies()) {
      const task = new StreamTask(topology, sub, 0, host);
      for (const t of task.inputTopics()) this.readers.set(t, task);
      this.tasks.push(task);
    }
    for (const t of this.tasks) t.initialize();
  }

  /**
   * Writes one record to an input topic and processes everything it causes. An internal topic may
   * be named as the topology declares it (as `readOutput` names it) or by its real name.
   */
  pipe<K, V>(name: string, key: K, value: V, options: PipeOptions = {}): this {
    const topic = resolveTopic(this.topology, this.applicationId, name);
    const timestamp = options.timestamp ?? this.wallClock;
    const headers = options.headers ?? {};
    if (this.globals.reads(topic)) {
      this.globals.apply(topic, { key, value, timestamp, headers }, this.nextOffset(topic));
      return this;
    }
    const task = this.readers.get(topic);
    if (!task) throw new TopologyError(`no source reads topic ${topic}`);
    task.add([{ topic, partition: 0, offset: this.nextOffset(topic), key, value, timestamp, headers }]);
    task.process();
    this.route();
    return this;
  }

  /** Pipes many [key, value] pairs (or [key, value, timestamp]) in order. */
  pipeAll<K, V>(topic: string, records: readonly (readonly [K, V] | readonly [K, V, number])[]): this {
    for (const r of records) this.pipe(topic, r[0], r[1], r.length > 2 ? { timestamp: r[2] } : {});
    return this;
  }

  /** Moves virtual wall-clock time and fires wall-clock punctuators that became due. */
  advanceWallClockTime(ms: number): this {
    this.wallClock += ms;
    for (const t of this.tasks) t.punctuateWallClock(this.wallClock);
    this.route();
    return this;
  }

  /** Output records of a topic since the last read (and forgets them). */
  readOutput<K, V>(topic: string): StreamRecord<K, V>[] {
    const out = this.outputs.get(topic) ?? [];
    this.outputs.set(topic, []);
    return out as StreamRecord<K, V>[];
  }

  /** Output as [key, value] pairs, the common case in assertions. */
  readKeyValues<K, V>(topic: string): [K, V][] {
    return this.readOutput<K, V>(topic).map((r) => [r.key, r.value]);
  }

  getStore<S extends StateStore>(name: string): S {
    for (const t of this.tasks) {
      const s = t.stores.get(name);
      if (s) return s as S;
    }
    const g = this.globals.store(name);
    if (g) return g as S;
    throw new TopologyError(`no store named ${name}`);
  }

  /** Every changelog entry written for a store, in order. */
  changelog(store: string): readonly ChangelogEntry[] {
    return this.changelogOf(store);
  }

  /** Records processed by all tasks (inputs and internal topics), as the runtime counts them. */
  recordsProcessed(): number {
    return this.tasks.reduce((n, t) => n + t.recordsIn, 0);
  }

  wallClockTime(): number {
    return this.wallClock;
  }

  close(): void {
    for (const t of this.tasks) t.close();
    this.globals.close();
  }

  private route(): void {
    if (this.routing) return;
    this.routing = true;
    try {
      while (this.pending.length > 0) {
        const r = this.pending.shift()!;
        const reader = r.internal ? this.readers.get(r.topic) : undefined;
        if (reader) {
          reader.add([{ topic: r.topic, partition: 0, offset: this.nextOffset(r.topic), key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers }]);
          reader.process();
        } else {
          const name = this.externalName(r.topic);
          if (!this.outputs.has(name)) this.outputs.set(name, []);
          this.outputs.get(name)!.push({ key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers });
        }
      }
    } finally {
      this.routing = false;
    }
  }

  /** Internal topics are read back by the name the topology gave them, without the prefix. */
  private externalName(topic: string): string {
    for (const name of internals(this.topology).internalTopics.keys()) {
      if (resolveTopic(this.topology, this.applicationId, name) === topic) return name;
    }
    return topic;
  }

  private nextOffset(topic: string): number {
    const o = this.offsets.get(topic) ?? 0;
    this.offsets.set(topic, o + 1);
    return o;
  }

  private changelogOf(store: string): ChangelogEntry[] {
    let c = this.changelogs.get(store);
    if (!c) this.changelogs.set(store, (c = []));
    return c;
  }
}
