/**
 * Prometheus really scrapes: the harness's Prometheus (file_sd targets, 2 s scrapes) is given a
 * short shop run's gateway and four processors in a target file of its own; its query API then
 * holds series with non-zero values for every target, under the engine's Kafka Streams names;
 * a processor stopped mid-run makes OrderstreamProcessStopped fire (6 s `for:`), which needs
 * the rules in monitoring/rules loaded (Prometheus started after they were added).
 */
import test from 'ava';
import { Api } from '../gateway/api.ts';
import { promQuery, startMonitoredShop } from './shop.ts';

const wait = (what: string, probe: () => Promise<true | undefined>, ms: number) => new Api('http://unused').waitFor(what, async () => {
  await new Promise((r) => setTimeout(r, 1000));
  return probe();
}, ms);

test.serial('every target is scraped with non-zero series; stopping a processor fires OrderstreamProcessStopped', async (t) => {
  const shop = await startMonitoredShop();
  t.teardown(() => shop.close());
  await shop.orders(10);
  const run = `run="${shop.run}"`;

  await wait('every target up', async () => {
    const up = await promQuery('/api/v1/query', { query: `up{${run}}` });
    return up.length === shop.targets.length && up.every((s) => s.value[1] === '1') ? true : undefined;
  }, 30_000);

  // Per target, a family that must have moved in this run: HTTP requests at the gateway,
  // records processed at every processor.
  await wait('non-zero series for every target', async () => {
    const gateway = await promQuery('/api/v1/query', { query: `sum(http_request_duration_seconds_count{${run},process="gateway"})` });
    const processed = await promQuery('/api/v1/query', { query: `sum by (process) (kafka_stream_task_process_total{${run},process!="gateway"})` });
    const moving = new Set(processed.filter((s) => Number(s.value[1]) > 0).map((s) => s.metric.process));
    return Number(gateway[0]?.value[1] ?? 0) > 0 && ['order', 'stock', 'payment', 'delivery'].every((p) => moving.has(p)) ? true : undefined;
  }, 30_000);

  const families = ['kafka_stream_task_process_total', 'kafka_stream_task_process_latency_seconds_bucket', 'kafka_stream_task_commit_latency_seconds_count',
    'kafka_stream_task_process_latency_avg', 'kafka_stream_task_commit_latency_max', 'kafka_stream_consumer_records_lag', 'kafka_stream_client_state',
    'orderstream_task_dead_letters_total', 'orderstream_order_status_total'];
  for (const name of families) {
    const series = await promQuery('/api/v1/series', { 'match[]': `${name}{${run}}` }) as unknown as unknown[];
    t.true(series.length > 0, `${name} has series`);
  }
  const statuses = await promQuery('/api/v1/query', { query: `orderstream_order_status_total{${run}}` });
  const byStatus = new Map(statuses.map((s) => [s.metric.status, Number(s.value[1])]));
  t.true((byStatus.get('CREATED') ?? 0) >= 10, `orders counted by status: ${JSON.stringify([...byStatus])}`);
  t.true((byStatus.get('CANCELLED') ?? 0) >= 4);
  const running = await promQuery('/api/v1/query', { query: `kafka_stream_client_state{${run},state="RUNNING",process!="gateway"} == 1` });
  t.is(running.length, 4, 'every processor RUNNING');

  const rules = await promQuery<{ groups: { name: string }[] }>('/api/v1/rules', {});
  t.true(rules.groups.some((g) => g.name === 'orderstream-alerts'), 'the rules in monitoring/rules are loaded (restart Prometheus after adding rules)');

  await shop.stopProcessor('payment');
  const started = Date.now();
  await wait('OrderstreamProcessStopped firing for payment', async () => {
    const alerts = await promQuery<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts', {});
    return alerts.alerts.some((a) => a.labels.alertname === 'OrderstreamProcessStopped' && a.labels.run === shop.run && a.labels.process === 'payment' && a.state === 'firing') ? true : undefined;
  }, 60_000);
  t.log(`alert firing ${((Date.now() - started) / 1000).toFixed(1)} s after the stop`);
  const others = await promQuery<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts', {});
  t.false(others.alerts.some((a) => a.labels.run === shop.run && a.labels.alertname === 'OrderstreamProcessStopped' && a.labels.process !== 'payment'), 'only the stopped process alerts');
});
