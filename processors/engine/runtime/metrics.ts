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
    return prometheusText([[applicationId, this]]);
  }

  /** This instance's samples per metric family, labelled with the application. */
  samples(applicationId: string): Map<string, [string, number][]> {
    const out = this.outputs();
    const app = `application="${escapeLabel(applicationId)}"`;
    const per = (f: (id: string, m: TaskMetrics) => number): [string, number][] =>
      [...this.tasks].map(([id, m]) => [`${app},task="${escapeLabel(id)}"`, f(id, m)]);
    return new Map<string, [string, number][]>([
      ['orderstream_records_in_total', per((_, m) => m.recordsIn)],
      ['orderstream_records_out_total', per((id) => out.get(id) ?? 0)],
      ['orderstream_process_seconds_total', per((_, m) => m.processSeconds)],
      ['orderstream_process_batches_total', per((_, m) => m.processBatches)],
      ['orderstream_commit_seconds_total', per((_, m) => m.commitSeconds)],
      ['orderstream_commits_total', per((_, m) => m.commits)],
      ['orderstream_restored_records_total', per((_, m) => m.restoredRecords)],
      ['orderstream_restore_seconds_total', per((_, m) => m.restoreSeconds)],
      ['orderstream_consumer_lag', [...this.tasks].flatMap(([id, m]) => [...m.lag].map(([p, v]): [string, number] => [`${app},task="${escapeLabel(id)}",partition="${escapeLabel(p)}"`, v]))],
    ]);
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

const FAMILIES: Readonly<Record<string, { type: 'counter' | 'gauge'; help: string }>> = {
  orderstream_records_in_total: { type: 'counter', help: 'Records consumed by the task.' },
  orderstream_records_out_total: { type: 'counter', help: 'Records the task sent to sink topics.' },
  orderstream_process_seconds_total: { type: 'counter', help: 'Time spent deserializing and processing batches.' },
  orderstream_process_batches_total: { type: 'counter', help: 'Batches processed.' },
  orderstream_commit_seconds_total: { type: 'counter', help: 'Time spent in commits the task took part in.' },
  orderstream_commits_total: { type: 'counter', help: 'Commits the task took part in.' },
  orderstream_restored_records_total: { type: 'counter', help: 'Changelog records applied while restoring.' },
  orderstream_restore_seconds_total: { type: 'counter', help: 'Time spent restoring.' },
  orderstream_consumer_lag: { type: 'gauge', help: 'Records behind the end of the input partition at the last fetch.' },
};

/**
 * One exposition for several applications in one process (the embedded job): each family's
 * HELP and TYPE once, then every application's samples, as the format requires.
 */
export function prometheusText(apps: readonly (readonly [applicationId: string, metrics: Metrics])[]): string {
  const all = apps.map(([id, m]) => m.samples(id));
  const lines: string[] = [];
  for (const [name, { type, help }] of Object.entries(FAMILIES)) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const samples of all) for (const [labels, v] of samples.get(name) ?? []) lines.push(`${name}{${labels}} ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Label values escaped as the text format requires: backslash, double quote, newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
