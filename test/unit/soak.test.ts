/**
 * The soak bench's measures (bench/soak-probe.ts) and its chart (bench/chart.ts): a restarted
 * app's restore as the soak reads it, the run's data on disk as the broker lays it out, and a
 * flat series drawn flat from a zero y axis.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Serdes, StreamsApp, StreamsBuilder, isMarker } from '../../processors/engine/index.ts';
import { MemoryTransport } from '../../transports/index.ts';
import { timeSeriesSvg } from '../../bench/chart.ts';
import { appSample, brokerData, restoreOf } from '../../bench/soak-probe.ts';
import { waitUntil } from '../conformance/suite.ts';

/** A count by key over `input` (2 partitions), as a factory of the same app restarted. */
async function counting(transport: MemoryTransport, input: string, applicationId: string): Promise<() => StreamsApp> {
  await transport.admin().createTopics([{ name: input, partitions: 2, kind: 'replayable' }]);
  return () => {
    const b = new StreamsBuilder();
    b.stream(input, { keySerde: Serdes.string(), valueSerde: Serdes.string() }).groupByKey().count();
    return new StreamsApp(b.build(), { applicationId, transport, commitIntervalMs: 20, logger: () => {} });
  };
}

test('a restarted app is sampled once its tasks run, with every changelog record it restored and its live entries', async (t) => {
  const transport = new MemoryTransport();
  const input = 'soak-probe-in';
  const applicationId = 'soak-probe-app';
  const app = await counting(transport, input, applicationId);
  const first = app();
  await first.start();
  const producer = transport.producer();
  await producer.connect();
  await producer.send(Array.from({ length: 30 }, (_, i) => ({ topic: input, key: Buffer.from(`k${i % 5}`), value: Buffer.from(`v${i}`) })));
  await waitUntil(() => first.recordsProcessed() >= 30, 'the first app to count 30 records');
  t.is(appSample(first).storeEntries, 5);
  await first.close();

  const changelogs = [...transport.broker.topics].filter(([name]) => name.startsWith(applicationId) && name.endsWith('-changelog'));
  t.true(changelogs.length > 0);
  // Less the end markers a restore writes to find the end of a partition (runtime/read-to-end.ts).
  const written = changelogs.reduce((n, [, topic]) => n + topic.logs.reduce((m, log) => m + log.all().filter((r) => !isMarker(r)).length, 0), 0);
  t.true(written >= 5);

  const second = app();
  t.teardown(() => second.close());
  await second.start();
  await waitUntil(() => appSample(second).tasks.length === 2, 'the restarted app to run both tasks');
  const sample = appSample(second);
  t.is(restoreOf(sample.tasks).restoredRecords, written);
  t.is(sample.storeEntries, 5);
  t.true(sample.tasks.every((x) => x.restoreMs >= 0));
  await producer.disconnect();
});

test('on the embedded broker a restart after 60,000 updates of 200 keys restores about what one after 1,000 does (compacted changelogs)', async (t) => {
  const transport = new MemoryTransport();
  const input = 'bounded-restore-in';
  const app = await counting(transport, input, 'bounded-restore-app');
  const producer = transport.producer();
  await producer.connect();
  let sent = 0;
  const restartAfter = async (total: number): Promise<number> => {
    const running = app();
    await running.start();
    const from = sent;
    for (; sent < total; sent += 1000) {
      await producer.send(Array.from({ length: 1000 }, (_, i) => ({ topic: input, key: Buffer.from(`k${(sent + i) % 200}`), value: Buffer.from('v') })));
    }
    await waitUntil(() => running.recordsProcessed() >= total - from && appSample(running).storeEntries === 200, `the app to count ${total} records`, 60_000);
    await running.close();
    const again = app();
    await again.start();
    await waitUntil(() => appSample(again).tasks.length === 2, 'the restarted app to run both tasks');
    const restored = restoreOf(appSample(again).tasks).restoredRecords;
    t.is(appSample(again).storeEntries, 200);
    await again.close();
    return restored;
  };
  const small = await restartAfter(1_000);
  const large = await restartAfter(60_000);
  t.log(`restored ${small} records after 1,000 updates, ${large} after 60,000`);
  t.true(small >= 200 && small <= 1_000, `after 1,000: ${small}`);
  // A partition is cleaned once as many records were appended as the last pass kept (at least
  // 1,000): it holds under ~2,000 per partition whatever the history.
  t.true(large <= 4_000, `after 60,000: ${large}, not the whole history`);
  await producer.disconnect();
});

test('restoreOf sums the tasks\' records and takes the longest task\'s time', (t) => {
  t.deepEqual(restoreOf([{ task: '0_0', restoredRecords: 3, restoreMs: 40 }, { task: '0_1', restoredRecords: 5, restoreMs: 25 }]), { restoredRecords: 8, restoreMs: 40 });
  t.deepEqual(restoreOf([]), { restoredRecords: 0, restoreMs: 0 });
});

function file(path: string, bytes: number): number {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, Buffer.alloc(bytes, 1));
  return statSync(path).blocks * 512;
}

test('brokerData counts only the run\'s Kafka partitions and RabbitMQ streams, changelogs and offsets apart', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soak-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = 'soak-kafka-1234abcd-';
  const kafka = join(dir, 'kafka', 'data');
  const changelog = file(join(kafka, `${prefix}app-stock-stock-levels-changelog-0`, '00000000000000000000.log'), 10_000)
    + file(join(kafka, `${prefix}app-stock-stock-levels-changelog-1`, '00000000000000000000.log'), 5_000);
  const topic = file(join(kafka, `${prefix}order-placed-0`, '00000000000000000000.log'), 7_000);
  file(join(kafka, 'another-run-order-placed-0', '00000000000000000000.log'), 9_000);
  file(join(kafka, '__consumer_offsets-0', '00000000000000000000.log'), 9_000);
  t.deepEqual(brokerData('kafka', dir, prefix), { changelogBytes: changelog, topicBytes: topic });

  const rprefix = 'soak-rabbit-1234abcd-';
  const streams = join(dir, 'rabbit', 'mnesia', 'orderstream@localhost', 'stream');
  const rchangelog = file(join(streams, `__${rprefix}app-order-orders-changelog_0_1796174372861868246`, '00000000000000000000.segment'), 12_000);
  const offsets = file(join(streams, `____orderstream_offsets_${rprefix}app-order_1796174381273729455`, '00000000000000000000.segment'), 3_000);
  const rtopic = file(join(streams, `__${rprefix}order-placed_1_1796174381273729400`, '00000000000000000000.segment'), 4_000);
  file(join(streams, '__someone-else-order-placed_1_1796174381273729400', '00000000000000000000.segment'), 4_000);
  t.deepEqual(brokerData('rabbit', dir, rprefix), { changelogBytes: rchangelog, topicBytes: rtopic, offsetsBytes: offsets });
});

test('a flat series is drawn flat, on a y axis from 0, with a dot per point when asked', (t) => {
  const svg = timeSeriesSvg({
    title: 'soak', xLabel: 'minutes',
    panels: [{ title: 'rss', unit: 'MiB', series: [{ name: 'flat', points: [[0, 200], [1, 200], [2, 200]] }, { name: 'restores', markers: true, points: [[0.5, 80], [1.5, 90]] }] }],
  });
  const polyline = /<polyline[^>]*points="([^"]+)"/.exec(svg)![1]!;
  const ys = polyline.split(' ').map((p) => Number(p.split(',')[1]));
  t.is(new Set(ys).size, 1);
  t.regex(svg, />0<\/text>/);
  t.is(svg.match(/<circle /g)?.length, 2);
  t.true(svg.includes('flat (200)'));
});
