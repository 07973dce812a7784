/**
 * What the soak run samples of one processor: the process's memory and, from its StreamsApp, the
 * tasks running now with what each restored at its start (the engine's own task metrics,
 * `app.metrics.snapshot`), records processed and live store entries. The soak's processor
 * processes answer it as JSON on GET /soak (bench/soak-processor.ts); on the embedded default the
 * soak reads it in process.
 *
 * Restore time comes from the snapshot because the Prometheus exposition has the restored records
 * (kafka_stream_state_restore_total) but not the time the restore took.
 */
import type { ReadOnlyKeyValueStore, StreamsApp } from '../processors/engine/index.ts';

export interface MemorySample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Buffers and other memory outside V8's heap. */
  readonly externalBytes: number;
}

export interface TaskRestore {
  readonly task: string;
  /** Changelog records applied while the task was restored at its start. */
  readonly restoredRecords: number;
  readonly restoreMs: number;
}

export interface AppSample {
  /** Tasks running now: a task is listed only once its restore is done. */
  readonly tasks: readonly TaskRestore[];
  readonly recordsProcessed: number;
  /** Entries of the app's key-value stores, summed over its tasks (approximateNumEntries). */
  readonly storeEntries: number;
}

export type ProcessSample = MemorySample & AppSample & { readonly pid: number };

export function memorySample(): MemorySample {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external };
}

export function appSample(app: StreamsApp): AppSample {
  const tasks = app.taskIds().map((task): TaskRestore => {
    const m = app.metrics.snapshot(task);
    return { task, restoredRecords: m?.restoredRecords ?? 0, restoreMs: Math.round((m?.restoreSeconds ?? 0) * 1000) };
  });
  let storeEntries = 0;
  for (const name of app.topology.stores.keys()) {
    for (const s of app.stores(name)) {
      const count = (s as Partial<ReadOnlyKeyValueStore<unknown, unknown>>).approximateNumEntries;
      if (typeof count === 'function') storeEntries += count.call(s);
    }
  }
  return { tasks, recordsProcessed: app.recordsProcessed(), storeEntries };
}

/** One restart's restore, from the restarted app's tasks: records summed, time of the longest. */
export function restoreOf(tasks: readonly TaskRestore[]): { restoredRecords: number; restoreMs: number } {
  return { restoredRecords: tasks.reduce((n, t) => n + t.restoredRecords, 0), restoreMs: Math.max(0, ...tasks.map((t) => t.restoreMs)) };
}
