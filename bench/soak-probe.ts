/**
 * What the soak run samples of one processor: the process's memory and, from its StreamsApp, the
 * tasks running now with what each restored at its start (the engine's own task metrics,
 * `app.metrics.snapshot`), records processed and live store entries. The soak's processor
 * processes answer it as JSON on GET /soak (bench/soak-processor.ts); on the embedded default the
 * soak reads it in process. Beside them, the run's data on the broker's disk (`brokerData`).
 *
 * Restore time comes from the snapshot because the Prometheus exposition has the restored records
 * (kafka_stream_state_restore_total) but not the time the restore took.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/** Bytes (and, on the memory transport, records) of the run's topics, changelogs apart. */
export interface DataSize {
  readonly changelogBytes: number;
  readonly topicBytes: number;
  /** RabbitMQ: the groups' offsets streams. */
  readonly offsetsBytes?: number;
  readonly changelogRecords?: number;
  readonly topicRecords?: number;
}

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
  for (const name of app.topology.describe().stores()) {
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

/** Bytes allocated on disk under `dir` (sparse preallocated index files count what they use). */
function diskBytes(dir: string): number {
  let n = 0;
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += diskBytes(p);
    else { try { n += statSync(p).blocks * 512; } catch { /* deleted meanwhile (a rolled segment) */ } }
  }
  return n;
}

/**
 * The run's partitions in the Kafka log dir (`<topic>-<partition>`), or its streams in RabbitMQ's
 * data dir, under the services harness's directory (scripts/services: kafka/data, rabbit/mnesia).
 */
export function brokerData(broker: 'kafka' | 'rabbit', servicesDir: string, prefix: string): DataSize {
  let changelogBytes = 0, topicBytes = 0, offsetsBytes = 0;
  const dirs: string[] = [];
  if (broker === 'kafka') {
    const logDir = join(servicesDir, 'kafka', 'data');
    for (const d of safeList(logDir)) if (d.startsWith(prefix)) dirs.push(join(logDir, d));
  } else {
    // RabbitMQ names a stream's directory after vhost and queue with '.' and '/' as '_' and a
    // suffix; the run's prefix (letters, digits, '-') appears in it as it is.
    const mnesia = join(servicesDir, 'rabbit', 'mnesia');
    for (const node of safeList(mnesia)) for (const d of safeList(join(mnesia, node, 'stream'))) if (d.includes(prefix)) dirs.push(join(mnesia, node, 'stream', d));
  }
  for (const d of dirs) {
    const n = diskBytes(d);
    const name = d.slice(d.lastIndexOf('/') + 1);
    if (name.includes('-changelog')) changelogBytes += n;
    else if (name.includes('orderstream_offsets')) offsetsBytes += n;
    else topicBytes += n;
  }
  return { changelogBytes, topicBytes, ...(broker === 'rabbit' ? { offsetsBytes } : {}) };
}

function safeList(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}
