/**
 * Per-task metrics on prom-client, under Kafka Streams' metric names so that dashboards and
 * alerts written for Kafka Streams read the same thing here.
 *
 * Naming: `kafka_stream_<group>_<metric>`, the Kafka Streams metric name with `-` → `_`, where
 * `<group>` is its metric group without `stream-` and `-metrics`: stream-task-metrics → `task`,
 * stream-state-metrics → `state`, stream-metrics → `client`, consumer-fetch-manager-metrics →
 * `consumer`. Latency `-avg`/`-max` are gauges in milliseconds over the last 30 s (as Kafka
 * Streams' sample window); beside them `_seconds` histograms for quantiles (p99), which Kafka
 * Streams does not have. Families Kafka Streams has no name for are prefixed `orderstream_`.
 * Every sample carries `application` (the application id, the registry's default label) and
 * `task`.
 *
 * Each instance owns one prom-client Registry (`registry`): one per StreamsApp, so one per
 * processor process. `text()` is prom-client's own exposition; `prometheus()` is the same text
 * rendered synchronously (StreamsApp.metricsText() is synchronous); a unit test holds the two equal.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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

/** Kafka Streams' client states, exported as `kafka_stream_client_state{state=…}` 1/0. */
export const CLIENT_STATES = ['CREATED', 'STARTING', 'REBALANCING', 'RUNNING', 'PENDING_SHUTDOWN', 'NOT_RUNNING', 'PENDING_ERROR', 'ERROR', 'CLOSED'] as const;

/** The error policies' stages (runtime/error-handling.ts) that can dead-letter a record. */
const DEAD_LETTER_REASONS = ['deserialization', 'processing', 'production'] as const;
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const WINDOW_MS = 30_000;

type TaskLabel = 'task';

export class Metrics {
  /** This instance's registry: every family below, nothing else. */
  readonly registry = new Registry();
  private readonly tasks = new Map<string, TaskMetrics>();
  /** Records out per task, read from the tasks when exported. */
  private outputs: () => Map<string, number> = () => new Map();
  private stateSource: (() => string) | undefined;
  private inferredState = 'CREATED';
  private application = '';
  private readonly windows = { process: new Map<string, Window>(), commit: new Map<string, Window>() };

  private readonly f = {
    processTotal: this.counter('kafka_stream_task_process_total', 'Records processed by the task (Kafka Streams process-total).'),
    processLatency: this.histogram('kafka_stream_task_process_latency_seconds', 'Time to process one record, the mean of each batch, in seconds.'),
    processAvg: this.gauge('kafka_stream_task_process_latency_avg', 'Mean time to process one record over the last 30 s, ms (Kafka Streams process-latency-avg).'),
    processMax: this.gauge('kafka_stream_task_process_latency_max', 'Longest mean per-record time of a batch over the last 30 s, ms (Kafka Streams process-latency-max).'),
    commitTotal: this.counter('kafka_stream_task_commit_total', 'Commits the task took part in (Kafka Streams commit-total).'),
    commitLatency: this.histogram('kafka_stream_task_commit_latency_seconds', 'Time of the commits the task took part in, seconds.'),
    commitAvg: this.gauge('kafka_stream_task_commit_latency_avg', 'Mean commit time over the last 30 s, ms (Kafka Streams commit-latency-avg).'),
    commitMax: this.gauge('kafka_stream_task_commit_latency_max', 'Longest commit over the last 30 s, ms (Kafka Streams commit-latency-max).'),
    lag: new Gauge<TaskLabel | 'topic' | 'partition'>({ name: 'kafka_stream_consumer_records_lag', help: 'Records behind the end of the input partition at the last fetch (consumer records-lag).', labelNames: ['task', 'topic', 'partition'], registers: [this.registry] }),
    restoreTotal: this.counter('kafka_stream_state_restore_total', 'Changelog records applied while restoring (Kafka Streams restore-total).'),
    restoreSeconds: this.counter('orderstream_state_restore_seconds_total', 'Seconds spent restoring stores from their changelogs (Kafka Streams reports it as restore-latency).'),
    restoreRemaining: this.gauge('kafka_stream_state_restore_remaining_records_total', 'Changelog records still to restore (Kafka Streams restore-remaining-records-total).'),
    produced: this.counter('orderstream_task_records_produced_total', 'Records the task sent to sink topics.'),
    deadLetters: new Counter<TaskLabel | 'reason'>({ name: 'orderstream_task_dead_letters_total', help: 'Records the task sent to the dead-letter topic, by reason (deserialization, processing, production).', labelNames: ['task', 'reason'], registers: [this.registry] }),
    failures: new Counter<TaskLabel | 'kind'>({ name: 'orderstream_task_failures_total', help: 'Failures of the task by kind (deserialization, processing, production, commit), whatever the policy did with them.', labelNames: ['task', 'kind'], registers: [this.registry] }),
    nodeProcess: new Counter<TaskLabel | 'processor_node_id'>({ name: 'kafka_stream_processor_node_process_total', help: 'Records the processor node processed (Kafka Streams processor-node process-total).', labelNames: ['task', 'processor_node_id'], registers: [this.registry] }),
    clientState: new Gauge<'state'>({ name: 'kafka_stream_client_state', help: 'The application\'s state (Kafka Streams client-state): 1 for the current state, 0 for the others.', labelNames: ['state'], registers: [this.registry] }),
  };

  processed(task: string, records: number, ms: number): void {
    const m = this.of(task);
    m.recordsIn += records;
    m.processSeconds += ms / 1000;
    m.processBatches++;
    this.f.processTotal.inc(this.labels(task), records);
    if (records > 0) {
      const perRecord = ms / records;
      this.f.processLatency.observe(this.labels(task), perRecord / 1000);
      windowOf(this.windows.process, task).add(perRecord);
    }
    this.inferredState = 'RUNNING';
  }

  committed(task: string, ms: number): void {
    const m = this.of(task);
    m.commitSeconds += ms / 1000;
    m.commits++;
    this.f.commitTotal.inc(this.labels(task));
    this.f.commitLatency.observe(this.labels(task), ms / 1000);
    windowOf(this.windows.commit, task).add(ms);
  }

  lag(task: string, partition: string, lag: number): void {
    this.of(task).lag.set(partition, lag);
    const cut = partition.lastIndexOf('/');
    this.f.lag.set({ ...this.labels(task), topic: cut < 0 ? partition : partition.slice(0, cut), partition: cut < 0 ? '' : partition.slice(cut + 1) }, lag);
  }

  restored(task: string, records: number, ms: number): void {
    const m = this.of(task);
    m.restoredRecords += records;
    m.restoreSeconds += ms / 1000;
    this.f.restoreTotal.inc(this.labels(task), records);
    this.f.restoreSeconds.inc(this.labels(task), ms / 1000);
    this.f.restoreRemaining.set(this.labels(task), 0);
    this.inferredState = 'RUNNING';
  }

  /** Changelog records left to restore for the task (hook: the restore loop, as it goes). */
  restoreRemaining(task: string, records: number): void {
    this.of(task);
    this.f.restoreRemaining.set(this.labels(task), records);
  }

  /** A record sent to the dead-letter topic (hook: where the app produces a dead letter). */
  deadLettered(task: string, reason: string): void {
    this.of(task);
    this.f.deadLetters.inc({ ...this.labels(task), reason });
    this.f.failures.inc({ ...this.labels(task), kind: reason });
  }

  /** A failure, whatever its policy did (hook: the error handlers and a failed commit). */
  failed(task: string, kind: string): void {
    this.of(task);
    this.f.failures.inc({ ...this.labels(task), kind });
  }

  /** Records through one processor node of the task (hook: the task, per node and batch). */
  nodeProcessed(task: string, node: string, records: number): void {
    this.of(task);
    this.f.nodeProcess.inc({ task, processor_node_id: node }, records);
  }

  recordsOutFrom(source: () => Map<string, number>): void {
    this.outputs = source;
  }

  /** The app's state as Kafka Streams' client-state (hook: `stateFrom(() => this.state)`). */
  stateFrom(source: () => string): void {
    this.stateSource = source;
  }

  taskIds(): string[] {
    return [...this.tasks.keys()];
  }

  snapshot(task: string): Readonly<TaskMetrics> | undefined {
    return this.tasks.get(task);
  }

  /** Prometheus text exposition (version 0.0.4), synchronously. */
  prometheus(applicationId: string): string {
    return prometheusText([[applicationId, this]]);
  }

  /** prom-client's own exposition of this instance's registry. */
  async text(applicationId: string): Promise<string> {
    this.refresh(applicationId);
    return this.registry.metrics();
  }

  /** Brings the pulled values (outputs, state, windows) up to date and stamps the application. */
  refresh(applicationId: string): void {
    this.stamp(applicationId);
    const out = this.outputs();
    this.f.produced.reset();
    for (const id of this.tasks.keys()) {
      const labels = this.labels(id);
      this.f.produced.inc(labels, out.get(id) ?? 0);
      const p = windowOf(this.windows.process, id).summary();
      const c = windowOf(this.windows.commit, id).summary();
      this.f.processAvg.set(labels, p.avg);
      this.f.processMax.set(labels, p.max);
      this.f.commitAvg.set(labels, c.avg);
      this.f.commitMax.set(labels, c.max);
    }
    const state = this.stateSource?.() ?? this.inferredState;
    for (const s of CLIENT_STATES) this.f.clientState.set({ state: s }, s === state ? 1 : 0);
  }

  /** Every family as text blocks (HELP, TYPE, samples), in registration order. */
  families(applicationId: string): { name: string; head: string[]; samples: string[] }[] {
    this.refresh(applicationId);
    return this.registry.getMetricsAsArray().map((metric) => render(metric as unknown as Internal, applicationId));
  }

  /**
   * The application label is only known at export (StreamsApp passes its id), so it is the
   * registry's default label rather than one recorded with each sample.
   */
  private stamp(applicationId: string): void {
    if (applicationId === this.application) return;
    this.application = applicationId;
    this.registry.setDefaultLabels({ application: applicationId });
  }

  private labels(task: string): Record<TaskLabel, string> {
    return { task };
  }

  private counter(name: string, help: string): Counter<TaskLabel> {
    return new Counter({ name, help, labelNames: ['task'], registers: [this.registry] });
  }

  private gauge(name: string, help: string): Gauge<TaskLabel> {
    return new Gauge({ name, help, labelNames: ['task'], registers: [this.registry] });
  }

  private histogram(name: string, help: string): Histogram<TaskLabel> {
    return new Histogram({ name, help, labelNames: ['task'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  }

  private of(task: string): TaskMetrics {
    let m = this.tasks.get(task);
    if (!m) {
      m = { recordsIn: 0, processSeconds: 0, processBatches: 0, commitSeconds: 0, commits: 0, restoredRecords: 0, restoreSeconds: 0, lag: new Map() };
      this.tasks.set(task, m);
      // Failure series exist from the task's start at 0, so rate() and increase() see the first one.
      for (const reason of DEAD_LETTER_REASONS) this.f.deadLetters.inc({ task, reason }, 0);
      for (const kind of [...DEAD_LETTER_REASONS, 'commit']) this.f.failures.inc({ task, kind }, 0);
    }
    return m;
  }
}

/**
 * One exposition for several applications in one process (the embedded job): each family's
 * HELP and TYPE once, then every application's samples, as the format requires.
 */
export function prometheusText(apps: readonly (readonly [applicationId: string, metrics: Metrics])[]): string {
  const blocks = new Map<string, { head: string[]; samples: string[] }>();
  for (const [id, m] of apps) {
    for (const family of m.families(id)) {
      const block = blocks.get(family.name);
      if (block) block.samples.push(...family.samples);
      else blocks.set(family.name, { head: family.head, samples: [...family.samples] });
    }
  }
  return `${[...blocks.values()].map((b) => [...b.head, ...b.samples].join('\n')).join('\n\n')}\n`;
}

/** Label values escaped as the text format requires: backslash, double quote, newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// --- synchronous rendering of prom-client's state (the same text as Registry.metrics()) ---

/** The part of prom-client's metric objects the synchronous renderer reads. */
interface Internal {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly upperBounds?: readonly number[];
  readonly hashMap: Record<string, { labels: Record<string, string | number>; value?: number; bucketValues?: Record<string, number>; sum?: number; count?: number }>;
}

function render(metric: Internal, application: string): { name: string; head: string[]; samples: string[] } {
  const head = [`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`];
  const samples: string[] = [];
  for (const v of Object.values(metric.hashMap)) {
    if (metric.type !== 'histogram') { samples.push(`${metric.name}${labelText({ ...v.labels, application })} ${number(v.value ?? 0)}`); continue; }
    // Label order as prom-client's: a histogram's own labels after `le` and the default label.
    let cumulative = 0;
    for (const bound of metric.upperBounds ?? []) {
      cumulative += v.bucketValues?.[bound] ?? 0;
      samples.push(`${metric.name}_bucket${labelText({ le: bound, application, ...v.labels })} ${number(cumulative)}`);
    }
    samples.push(`${metric.name}_bucket${labelText({ le: '+Inf', application, ...v.labels })} ${number(v.count ?? 0)}`);
    samples.push(`${metric.name}_sum${labelText({ application, ...v.labels })} ${number(v.sum ?? 0)}`);
    samples.push(`${metric.name}_count${labelText({ application, ...v.labels })} ${number(v.count ?? 0)}`);
  }
  return { name: metric.name, head, samples };
}

function labelText(labels: Record<string, string | number>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function number(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Samples of the last 30 s: avg and max as Kafka Streams' sampled latency metrics. */
class Window {
  private readonly samples: [at: number, value: number][] = [];

  add(value: number): void {
    this.samples.push([Date.now(), value]);
    this.prune();
  }

  summary(): { avg: number; max: number } {
    this.prune();
    if (this.samples.length === 0) return { avg: 0, max: 0 };
    let sum = 0;
    let max = 0;
    for (const [, v] of this.samples) { sum += v; max = Math.max(max, v); }
    return { avg: sum / this.samples.length, max };
  }

  private prune(): void {
    const since = Date.now() - WINDOW_MS;
    let drop = 0;
    while (drop < this.samples.length && this.samples[drop]![0] < since) drop++;
    if (drop) this.samples.splice(0, drop);
  }
}

function windowOf(windows: Map<string, Window>, task: string): Window {
  let w = windows.get(task);
  if (!w) { w = new Window(); windows.set(task, w); }
  return w;
}
