/**
 * Per-task metrics, exposed in the Prometheus text format: records processed, batch processing
 * latency, commit latency, consumer lag per input partition, restore progress.
 */

interface TaskMetrics {
  recordsIn: number;
  processSeconds: number;
  processBatches: number;
  commitSeconds: number;
  commits: number;
  restoredRecords: number;
  restoreSeconds: number;
  readonly lag: Map<string, number>;
}

export class Metrics {
  private readonly tasks = new Map<string, TaskMetrics>();
  /** Records out per task, read from the tasks when exported. */
  private outputs: () => Map<string, number> = () => new Map();

  processed(task: string, records: number, ms: number): void {
    const m = this.of(task);
    m.recordsIn += records;
    m.processSeconds += ms / 1000;
    m.processBatches++;
  }

  committed(task: string, ms: number): void {
    const m = this.of(task);
    m.commitSeconds += ms / 1000;
    m.commits++;
  }

  lag(task: string, partition: string, lag: number): void {
    this.of(task).lag.set(partition, lag);
  }

  restored(task: string, records: number, ms: number): void {
    const m = this.of(task);
    m.restoredRecords += records;
    m.restoreSeconds += ms / 1000;
  }

  recordsOutFrom(source: () => Map<string, number>): void {
    this.outputs = source;
  }

  taskIds(): string[] {
    return [...this.tasks.keys()];
  }

  snapshot(task: string): Readonly<TaskMetrics> | undefined {
    return this.tasks.get(task);
  }

  /** Prometheus text exposition (version 0.0.4). */
  prometheus(applicationId: string): string {
    const out = this.outputs();
    const lines: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge', help: string, values: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of values) lines.push(`${name}{${labels}} ${v}`);
    };
    const per = (f: (m: TaskMetrics) => number): [string, number][] =>
      [...this.tasks].map(([id, m]) => [`application="${applicationId}",task="${id}"`, f(m)]);
    family('orderstream_records_in_total', 'counter', 'Records consumed by the task.', per((m) => m.recordsIn));
    family('orderstream_records_out_total', 'counter', 'Records the task sent to sink topics.',
      [...this.tasks.keys()].map((id) => [`application="${applicationId}",task="${id}"`, out.get(id) ?? 0]));
    family('orderstream_process_seconds_total', 'counter', 'Time spent deserializing and processing batches.', per((m) => m.processSeconds));
    family('orderstream_process_batches_total', 'counter', 'Batches processed.', per((m) => m.processBatches));
    family('orderstream_commit_seconds_total', 'counter', 'Time spent in commits the task took part in.', per((m) => m.commitSeconds));
    family('orderstream_commits_total', 'counter', 'Commits the task took part in.', per((m) => m.commits));
    family('orderstream_restored_records_total', 'counter', 'Changelog records applied while restoring.', per((m) => m.restoredRecords));
    family('orderstream_restore_seconds_total', 'counter', 'Time spent restoring.', per((m) => m.restoreSeconds));
    family('orderstream_consumer_lag', 'gauge', 'Records behind the end of the input partition at the last fetch.',
      [...this.tasks].flatMap(([id, m]) => [...m.lag].map(([p, v]): [string, number] => [`application="${applicationId}",task="${id}",partition="${p}"`, v])));
    return `${lines.join('\n')}\n`;
  }

  private of(task: string): TaskMetrics {
    let m = this.tasks.get(task);
    if (!m) {
      m = { recordsIn: 0, processSeconds: 0, processBatches: 0, commitSeconds: 0, commits: 0, restoredRecords: 0, restoreSeconds: 0, lag: new Map() };
      this.tasks.set(task, m);
    }
    return m;
  }
}
