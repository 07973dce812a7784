import test from 'ava';
import { escapeLabel, Metrics, prometheusText } from './metrics.ts';

test('several applications in one exposition: each family announced once, every application\'s samples under it', (t) => {
  const a = new Metrics();
  const b = new Metrics();
  a.processed('0_0', 3, 5);
  b.processed('1_2', 7, 5);
  const text = prometheusText([['order-processor', a], ['stock-processor', b]]);
  t.is(text.match(/^# TYPE kafka_stream_task_process_total counter$/gm)?.length, 1);
  t.regex(text, /kafka_stream_task_process_total\{task="0_0",application="order-processor"\} 3\nkafka_stream_task_process_total\{task="1_2",application="stock-processor"\} 7/);
});

test('label values are escaped: backslash, quote and newline cannot break a line', (t) => {
  t.is(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const m = new Metrics();
  m.lag('0_0', 'top"ic/3', 4);
  t.regex(m.prometheus('app\nx'), /kafka_stream_consumer_records_lag\{task="0_0",topic="top\\"ic",partition="3",application="app\\nx"\} 4/);
});

test('the synchronous text is exactly prom-client\'s own exposition of the registry', async (t) => {
  const m = new Metrics();
  m.processed('0_0', 4, 2);
  m.processed('0_1', 1, 30);
  m.committed('0_0', 12);
  m.lag('0_0', 'orders/0', 9);
  m.restored('0_1', 100, 50);
  m.deadLettered('0_0', 'processing');
  m.failed('0_1', 'commit');
  m.recordsOutFrom(() => new Map([['0_0', 6]]));
  const sync = m.prometheus('order"processor');
  t.is(sync, await m.text('order"processor'));
  t.is(m.prometheus('order"processor'), sync, 'rendering twice changes nothing');
  t.regex(sync, /^orderstream_state_restore_seconds_total\{task="0_1",application="order\\"processor"\} 0\.05$/m, 'restore time, in seconds');
});

test('Kafka Streams names: process-total, latency avg/max in ms, histograms with buckets, records-lag, restore, client-state', (t) => {
  const m = new Metrics();
  m.processed('0_0', 10, 20);
  m.processed('0_0', 10, 60);
  m.committed('0_0', 8);
  m.committed('0_0', 4);
  m.restoreRemaining('0_0', 250);
  const text = m.prometheus('app');
  t.regex(text, /^kafka_stream_task_process_total\{task="0_0",application="app"\} 20$/m);
  t.regex(text, /^kafka_stream_task_process_latency_avg\{task="0_0",application="app"\} 4$/m);
  t.regex(text, /^kafka_stream_task_process_latency_max\{task="0_0",application="app"\} 6$/m);
  t.regex(text, /^kafka_stream_task_commit_latency_avg\{task="0_0",application="app"\} 6$/m);
  t.regex(text, /^kafka_stream_task_commit_latency_max\{task="0_0",application="app"\} 8$/m);
  t.regex(text, /^kafka_stream_task_process_latency_seconds_bucket\{le="0\.0025",application="app",task="0_0"\} 1$/m);
  t.regex(text, /^kafka_stream_task_process_latency_seconds_bucket\{le="\+Inf",application="app",task="0_0"\} 2$/m);
  t.regex(text, /^kafka_stream_task_commit_latency_seconds_count\{application="app",task="0_0"\} 2$/m);
  t.regex(text, /^kafka_stream_state_restore_remaining_records_total\{task="0_0",application="app"\} 250$/m);
  t.regex(text, /^kafka_stream_client_state\{state="RUNNING",application="app"\} 1$/m);
  t.regex(text, /^kafka_stream_client_state\{state="CREATED",application="app"\} 0$/m);
  t.regex(text, /^orderstream_task_dead_letters_total\{task="0_0",reason="processing",application="app"\} 0$/m, 'failure series start at 0');
  t.regex(text, /^orderstream_task_failures_total\{task="0_0",kind="commit",application="app"\} 0$/m);
  m.nodeProcessed('0_0', 'KSTREAM-SOURCE-0000000000', 5);
  m.deadLettered('0_0', 'processing');
  t.regex(m.prometheus('app'), /^kafka_stream_processor_node_process_total\{task="0_0",processor_node_id="KSTREAM-SOURCE-0000000000",application="app"\} 5$/m);
  t.regex(m.prometheus('app'), /^orderstream_task_dead_letters_total\{task="0_0",reason="processing",application="app"\} 1$/m);
  m.stateFrom(() => 'ERROR');
  t.regex(m.prometheus('app'), /^kafka_stream_client_state\{state="ERROR",application="app"\} 1$/m);
});
