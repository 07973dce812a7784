/**
 * Brings new tasks' stores up to date before they process, as Kafka Streams'
 * `StoreChangelogReader`: each logged store is cleared and replayed from its changelog partition
 * to the end. Under exactly_once it first reads the tasks' checkpoints (where each resumes, and,
 * without transactions, which commit units landed: entries of any other unit belong to a crashed
 * attempt and are skipped).
 *
 * A persistent store closed cleanly keeps its content and a local checkpoint (local-checkpoint.ts)
 * of the changelog offset it holds: it is not cleared, and only the changelog past that offset is
 * applied. Under effectively-once the unit filter applies to that tail as to a full replay; what
 * the store holds below the offset passed the same filter when it was restored or was written by
 * units this instance committed (any failed commit closes the tasks dirty, leaving no checkpoint).
 *
 * Where the transport does not compact, a store starts from its changelog partition's latest
 * complete snapshot (snapshots.ts) and replays only the changelog past it.
 */
import type { Producer, ProducerRecord, TopicPartition, Transport } from '../../../transports/index.ts';
import { fromTpKey, tpKey } from '../../../transports/util.ts';
import type { StateStore } from '../stores/store.ts';
import { changelogName, resolveTopic, type Topology } from '../topology.ts';
import { UNIT_HEADER, unitLanded, type Checkpoint } from './effectively-once.ts';
import { deleteLocalCheckpoint, readLocalCheckpoint, writeLocalCheckpoint, type StoreOffset } from './local-checkpoint.ts';
import type { Metrics } from './metrics.ts';
import { entryBytes, type StoreSnapshots } from './snapshots.ts';
import { MARKER_HEADER, MARKER_KEY, readToEnd } from './read-to-end.ts';
import type { StreamTask } from './task.ts';
import { internals } from '../internals.ts';

export interface ChangelogReaderOptions {
  readonly topology: Topology;
  readonly applicationId: string;
  readonly transport: Transport;
  /** The producer of the moment, for read-to-end markers. */
  readonly producer: () => Producer;
  /** Apply only entries of checkpointed units (effectively-once). */
  readonly effectivelyOnce: boolean;
  readonly metrics: Metrics;
  /** The application's state directory: a task's persistent stores live in `<stateDir>/<task id>`. */
  readonly stateDir: string;
  /** Where the transport does not compact: restores start from snapshots. */
  readonly snapshots?: StoreSnapshots;
}

interface RestoreTarget {
  readonly task: StreamTask;
  readonly store: StateStore;
  /** Entries below this offset are in the store already (0: restoring in full). */
  from: number;
  /** `from` is a snapshot's: at or before the changelog's end, so it may be sought blind. */
  fromSnapshot: boolean;
}

export class StoreChangelogReader {
  readonly #o: ChangelogReaderOptions;
  /**
   * Per changelog partition restored here, the offset its next record gets, counted: the end seen
   * at restore, plus the entries committed since. Exact where every record takes one offset and
   * only the owner writes (RabbitMQ streams, which tell no offset on publish); used only where the
   * transport tells none.
   */
  readonly #ends = new Map<string, number>();

  constructor(options: ChangelogReaderOptions) {
    this.#o = options;
  }

  /**
   * The latest checkpoints of the tasks, each read from its own checkpoint partition (task id →
   * partition; absent from the answer: the task never committed).
   */
  async readCheckpoints(partitions: ReadonlyMap<string, TopicPartition>): Promise<Map<string, Checkpoint>> {
    const out = new Map<string, Checkpoint>();
    if (partitions.size === 0) return out;
    const owner = new Map([...partitions].map(([id, tp]) => [tpKey(tp), id]));
    await readToEnd({
      transport: this.#o.transport, producer: this.#o.producer(), partitions: [...partitions.values()],
      groupPrefix: `${this.#o.applicationId}-restore`,
      onRecord: (r) => {
        if (!r.value) return;
        const cp = JSON.parse(r.value.toString()) as Checkpoint;
        if (owner.get(tpKey(r)) === cp.task) out.set(cp.task, cp);
      },
    });
    return out;
  }

  /**
   * Brings every logged store of `tasks` up to its changelog's end: a persistent store with a
   * local checkpoint from the tail past it, any other cleared and replayed in full. Then deletes
   * the tasks' local checkpoints, as they are about to process. Records restored counts and time.
   */
  async restore(tasks: readonly StreamTask[], checkpoints: ReadonlyMap<string, Checkpoint>): Promise<void> {
    const { topology, applicationId, metrics } = this.#o;
    const targets = new Map<string, RestoreTarget>();
    for (const task of tasks) {
      const local = readLocalCheckpoint(this.taskDir(task));
      for (const [name, store] of task.stores) {
        if (!internals(topology).stores.get(name)!.logging) continue;
        const tp = { topic: resolveTopic(topology, applicationId, changelogName(name)), partition: task.partition };
        const held = store.persistent ? local?.get(name) : undefined;
        const from = held && held.topic === tp.topic && held.partition === tp.partition ? held.offset : 0;
        if (from === 0) store.clear();
        targets.set(tpKey(tp), { task, store, from, fromSnapshot: false });
      }
    }
    const started = Date.now();
    const restored = new Map<string, number>();
    if (this.#o.snapshots && targets.size > 0) await this.loadSnapshots(this.#o.snapshots, targets, restored);
    if (targets.size > 0) {
      // A checkpoint past the changelog's end means another changelog (the topic was re-created, an
      // application reset): it proves nothing, so those stores are wiped and replayed in full.
      const stale = await this.replay(targets, checkpoints, restored);
      if (stale.length > 0) {
        const again = new Map(stale.map((k) => [k, targets.get(k)!]));
        for (const t of again.values()) { t.store.clear(); t.from = 0; t.fromSnapshot = false; restored.delete(t.task.id); }
        await this.replay(again, checkpoints, restored);
      }
    }
    for (const task of tasks) deleteLocalCheckpoint(this.taskDir(task));
    for (const task of tasks) metrics.restored(task.id, restored.get(task.id) ?? 0, Date.now() - started);
  }

  /**
   * Loads each target's latest complete snapshot if it covers more than the store holds (a
   * persistent store's local checkpoint may be further on): the store is wiped and filled from it.
   */
  private async loadSnapshots(snapshots: StoreSnapshots, targets: ReadonlyMap<string, RestoreTarget>, restored: Map<string, number>): Promise<void> {
    const latest = await snapshots.latest([...targets.keys()].map(fromTpKey));
    for (const [key, s] of latest) {
      const target = targets.get(key)!;
      if (s.from <= target.from) continue;
      target.store.clear();
      for (const [k, v] of s.entries) target.store.restore(k, v);
      target.from = s.from;
      target.fromSnapshot = true;
      restored.set(target.task.id, (restored.get(target.task.id) ?? 0) + s.entries.length);
    }
  }

  /** Applies each target's changelog from its `from` to the end; returns the targets whose `from` was past it. */
  private async replay(targets: ReadonlyMap<string, RestoreTarget>, checkpoints: ReadonlyMap<string, Checkpoint>, restored: Map<string, number>): Promise<string[]> {
    const stale: string[] = [];
    // What each changelog partition holds past its start, for the next snapshot's due time.
    const tails = new Map<string, { records: number; bytes: number }>([...targets.keys()].map((k) => [k, { records: 0, bytes: 0 }]));
    await readToEnd({
      transport: this.#o.transport, producer: this.#o.producer(), groupPrefix: `${this.#o.applicationId}-restore`,
      partitions: [...targets.keys()].map(fromTpKey),
      from: new Map([...targets].filter(([, t]) => t.from > 0).map(([k, t]) => [k, t.from])),
      trusted: new Set([...targets].filter(([, t]) => t.fromSnapshot).map(([k]) => k)),
      onEnd: (tp, end) => {
        this.#ends.set(tpKey(tp), end + 1);
        if (targets.get(tpKey(tp))!.from > end) stale.push(tpKey(tp));
      },
      onRecord: (r) => {
        const target = targets.get(tpKey(r));
        if (!target || r.key === null || r.offset < target.from) return;
        const tail = tails.get(tpKey(r))!;
        tail.records++;
        tail.bytes += entryBytes(r.key, r.value);
        if (this.#o.effectivelyOnce) {
          const unit = r.headers[UNIT_HEADER]?.toString();
          if (!unit || !unitLanded(checkpoints.get(target.task.id), unit)) return;
        }
        target.store.restore(r.key, r.value);
        restored.set(target.task.id, (restored.get(target.task.id) ?? 0) + 1);
      },
    });
    for (const [key, tail] of tails) this.#o.snapshots?.restored(fromTpKey(key), tail.records, tail.bytes);
    return stale;
  }

  /** The offset the next record of a changelog partition restored here gets, as counted (see #ends). */
  end(tp: TopicPartition): number | undefined {
    return this.#ends.get(tpKey(tp));
  }

  /** A commit wrote these changelog entries (see #ends; and what each partition holds past its snapshot). */
  committed(changelog: readonly ProducerRecord[]): void {
    const snapshots = this.#o.snapshots;
    for (const r of changelog) {
      if (r.partition === undefined) continue;
      const key = tpKey({ topic: r.topic, partition: r.partition });
      const end = this.#ends.get(key);
      if (end !== undefined) this.#ends.set(key, end + 1);
      snapshots?.committed(key, r);
    }
  }

  /**
   * After a clean close's final commit: writes each task's local checkpoint, the changelog end of
   * each of its persistent logged stores. The end is the offset of a marker record sent now (every
   * entry of the tasks is committed before it); where the transport tells no offset, the end
   * counted since the restore.
   */
  async checkpoint(tasks: readonly StreamTask[]): Promise<void> {
    const { topology, applicationId } = this.#o;
    const wanted: { task: StreamTask; store: string; tp: TopicPartition }[] = [];
    for (const task of tasks) {
      for (const [name, store] of task.stores) {
        if (!store.persistent || !internals(topology).stores.get(name)!.logging) continue;
        wanted.push({ task, store: name, tp: { topic: resolveTopic(topology, applicationId, changelogName(name)), partition: task.partition } });
      }
    }
    if (wanted.length === 0) return;
    const metadata = await this.#o.producer().send(wanted.map(({ tp }) => ({
      ...tp, key: MARKER_KEY, value: null, headers: { [MARKER_HEADER]: `checkpoint-${applicationId}` },
    })));
    // Matched by partition, not by order: each wanted partition is one store's changelog of one task.
    const ends = new Map(metadata.map((m) => [tpKey(m), m.offset]));
    const perTask = new Map<StreamTask, Map<string, StoreOffset>>();
    wanted.forEach(({ task, store, tp }) => {
      const marker = ends.get(tpKey(tp));
      const offset = marker === undefined ? this.#ends.get(tpKey(tp)) : marker + 1;
      if (offset === undefined) return;
      let stores = perTask.get(task);
      if (!stores) perTask.set(task, stores = new Map());
      stores.set(store, { ...tp, offset });
    });
    for (const [task, stores] of perTask) writeLocalCheckpoint(this.taskDir(task), stores);
  }

  private taskDir(task: StreamTask): string {
    return `${this.#o.stateDir}/${task.id}`;
  }
}
