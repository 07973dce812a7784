/**
 * Brings new tasks' stores up to date before they process, as Kafka Streams'
 * `StoreChangelogReader`: each logged store is cleared and replayed from its changelog partition
 * to the end. Under exactly_once it first reads the tasks' checkpoints (where each resumes, and,
 * without transactions, which commit units landed: entries of any other unit belong to a crashed
 * attempt and are skipped).
 */
import type { Producer, Transport } from '../../../transports/index.ts';
import { fromTpKey, tpKey } from '../../../transports/util.ts';
import type { StateStore } from '../stores/store.ts';
import { changelogName, resolveTopic, type Topology } from '../topology.ts';
import { UNIT_HEADER, type Checkpoint } from './effectively-once.ts';
import type { Metrics } from './metrics.ts';
import { readToEnd } from './read-to-end.ts';
import type { StreamTask } from './task.ts';

/** A task's latest checkpoint and every commit unit it ever checkpointed. */
export interface TaskCheckpoints {
  readonly last: Checkpoint;
  readonly units: ReadonlySet<string>;
}

export interface ChangelogReaderOptions {
  readonly topology: Topology;
  readonly applicationId: string;
  readonly transport: Transport;
  /** The producer of the moment, for read-to-end markers. */
  readonly producer: () => Producer;
  readonly checkpointTopic: string;
  /** Apply only entries of checkpointed units (effectively-once). */
  readonly effectivelyOnce: boolean;
  readonly metrics: Metrics;
}

export class StoreChangelogReader {
  readonly #o: ChangelogReaderOptions;

  constructor(options: ChangelogReaderOptions) {
    this.#o = options;
  }

  /** The checkpoints of the tasks in `ids` (absent: the task never committed). */
  async readCheckpoints(ids: ReadonlySet<string>): Promise<Map<string, TaskCheckpoints>> {
    const out = new Map<string, { last: Checkpoint; units: Set<string> }>();
    await readToEnd({
      transport: this.#o.transport, producer: this.#o.producer(), partitions: [{ topic: this.#o.checkpointTopic, partition: 0 }],
      groupPrefix: `${this.#o.applicationId}-restore`,
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

  /** Clears and replays every logged store of `tasks`; records restored counts and time. */
  async restore(tasks: readonly StreamTask[], checkpoints: ReadonlyMap<string, TaskCheckpoints>): Promise<void> {
    const { topology, applicationId, metrics } = this.#o;
    const targets = new Map<string, { task: StreamTask; store: StateStore }>();
    for (const task of tasks) {
      for (const [name, store] of task.stores) {
        if (!topology.stores.get(name)!.logging) continue;
        store.clear();
        targets.set(tpKey({ topic: resolveTopic(topology, applicationId, changelogName(name)), partition: task.partition }), { task, store });
      }
    }
    if (targets.size === 0) return;
    const started = Date.now();
    const restored = new Map<string, number>();
    await readToEnd({
      transport: this.#o.transport, producer: this.#o.producer(), groupPrefix: `${applicationId}-restore`,
      partitions: [...targets.keys()].map(fromTpKey),
      onRecord: (r) => {
        const target = targets.get(tpKey(r));
        if (!target || r.key === null) return;
        if (this.#o.effectivelyOnce) {
          const unit = r.headers[UNIT_HEADER]?.toString();
          if (!unit || !checkpoints.get(target.task.id)?.units.has(unit)) return;
        }
        target.store.restore(r.key, r.value);
        restored.set(target.task.id, (restored.get(target.task.id) ?? 0) + 1);
      },
    });
    for (const task of tasks) metrics.restored(task.id, restored.get(task.id) ?? 0, Date.now() - started);
  }
}
