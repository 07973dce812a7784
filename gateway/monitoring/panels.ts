/**
 * The dashboard's charts as a whitelist: the proxy runs only these PromQL expressions, so the
 * gateway never forwards a caller's query to Prometheus (no arbitrary load, no data beyond these
 * aggregates). Every engine aggregate takes the max over instances reporting the same task
 * first (the embedded job's processors are exported by the gateway and by their own port), as
 * the recording rules in monitoring/rules do.
 */
export interface Panel {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  /** The label naming each series in the legend. */
  readonly legend: string;
  readonly expr: string;
}

const perTask = (expr: string, extra = ''): string => `max by (application, task${extra}) (${expr})`;

export const PANELS: readonly Panel[] = [
  { id: 'orders-by-status', title: 'Orders per minute by status', unit: '/min', legend: 'status', expr: 'max by (status) (rate(orderstream_order_status_total[1m])) * 60' },
  { id: 'records-lag', title: 'Consumer lag per processor', unit: 'records', legend: 'application', expr: `sum by (application) (${perTask('kafka_stream_consumer_records_lag', ', topic, partition')})` },
  { id: 'process-rate', title: 'Records processed per second', unit: '/s', legend: 'application', expr: `sum by (application) (${perTask('rate(kafka_stream_task_process_total[1m])')})` },
  { id: 'process-latency-p99', title: 'Process latency p99 per record', unit: 's', legend: 'application', expr: `histogram_quantile(0.99, sum by (application, le) (${perTask('rate(kafka_stream_task_process_latency_seconds_bucket[1m])', ', le')}))` },
  { id: 'dead-letters', title: 'Dead letters per minute', unit: '/min', legend: 'application', expr: `sum by (application) (${perTask('rate(orderstream_task_dead_letters_total[1m])', ', reason')}) * 60` },
  { id: 'failures', title: 'Failures per minute (engine by kind, gateway 5xx)', unit: '/min', legend: 'kind', expr: `(sum by (kind) (${perTask('rate(orderstream_task_failures_total[1m])', ', kind')}) or label_replace(sum(rate(http_request_duration_seconds_count{status=~"5.."}[1m])) or vector(0), "kind", "gateway-5xx", "", "")) * 60` },
];

/** Instant queries behind the topology map's live rates. */
export const RATE_QUERIES = {
  /** Records/s into each sub-topology (task ids are `<sub-topology>_<partition>`). */
  subtopology: `sum by (application, subtopology) (label_replace(${perTask('rate(kafka_stream_task_process_total[1m])')}, "subtopology", "$1", "task", "([0-9]+)_.*"))`,
  /** Records/s out of each sub-topology's sinks. */
  produced: `sum by (application, subtopology) (label_replace(${perTask('rate(orderstream_task_records_produced_total[1m])')}, "subtopology", "$1", "task", "([0-9]+)_.*"))`,
  /** Records/s per processor node, where the engine reports them. */
  node: `sum by (application, processor_node_id) (${perTask('rate(kafka_stream_processor_node_process_total[1m])', ', processor_node_id')})`,
} as const;

export function panel(id: string): Panel | undefined {
  return PANELS.find((p) => p.id === id);
}
