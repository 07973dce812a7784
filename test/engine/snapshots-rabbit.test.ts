/**
 * Store snapshots on the real RabbitMQ (streams are never compacted): a restart after a long
 * history restores a snapshot and the changelog past it — sought on the stream by offset — not
 * the history, with the state a full replay gives, under both guarantees; the changelog streams
 * carry the retention bound the snapshots make safe. The memory-broker cases (a snapshot cut
 * short) are in snapshots.test.ts.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { StreamsApp, StreamsBuilder, type KeyValueStore, type ProcessingGuarantee } from '../../processors/engine/index.ts';
import { RabbitTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { waitUntil } from '../conformance/suite.ts';

const e = endpoints();
const KEYS = 100;
const UPDATES = 12_000;

for (const guarantee of ['at_least_once', 'exactly_once'] as ProcessingGuarantee[]) {
  test.serial(`rabbit (${guarantee}): a restart after ${UPDATES.toLocaleString('en')} updates restores a snapshot and the changelog past it, as a full replay would`, async (t) => {
    t.timeout(240_000);
    const id = randomUUID().slice(0, 8);
    const input = `snap-in-${id}`;
    const applicationId = `snap-app-${id}`;
    const transport = new RabbitTransport({ url: e.rabbitUrl, managementUrl: e.rabbitManagementUrl });
    const admin = transport.admin();
    await admin.createTopics([{ name: input, partitions: 2, kind: 'replayable' }]);
    const producer = transport.producer();
    await producer.connect();
    const apps: StreamsApp[] = [];
    t.teardown(async () => {
      for (const a of apps) await a.close().catch(() => undefined);
      await producer.disconnect();
      await admin.deleteGroups([applicationId, `${applicationId}-replay`]).catch(() => undefined);
      await admin.deleteTopics([input, ...await admin.listTopics(`${applicationId}-`)]).catch(() => undefined);
      await transport.close();
    });
    const make = (app: string, snapshots: { minRecords: number } | false) => {
      const b = new StreamsBuilder();
      b.stream<string, string>(input).groupByKey().count({ storeName: 'n' });
      const a = new StreamsApp(b.build(), { applicationId: app, transport, guarantee, commitIntervalMs: 100, logger: () => {}, snapshots });
      apps.push(a);
      return a;
    };
    const contents = (a: StreamsApp) => Object.fromEntries(a.stores<KeyValueStore<string, number>>('n').flatMap((s) => s.all().map((kv) => [kv.key, kv.value] as const)).sort(([x], [y]) => x.localeCompare(y)));
    const restored = (a: StreamsApp) => a.taskIds().reduce((n, task) => n + (a.metrics.snapshot(task)?.restoredRecords ?? 0), 0);

    const first = make(applicationId, { minRecords: 1_000 });
    await first.start();
    for (let sent = 0; sent < UPDATES; sent += 1000) {
      await producer.send(Array.from({ length: 1000 }, (_, i) => ({ topic: input, key: Buffer.from(JSON.stringify(`k${(sent + i) % KEYS}`)), value: Buffer.from('"x"') })));
    }
    await waitUntil(() => first.recordsProcessed() >= UPDATES, 'every update counted', 120_000);
    await first.close();
    const snapshots = await admin.listTopics(`${applicationId}-n-changelog.snapshot.`);
    t.is(snapshots.length, 2, `one snapshot per changelog partition is left: ${snapshots.join(', ')}`);
    const mgmt = new URL(e.rabbitManagementUrl);
    const queue = await fetch(`${mgmt.origin}/api/queues/%2F/${encodeURIComponent(`${applicationId}-n-changelog.0`)}`, {
      headers: { authorization: `Basic ${Buffer.from(`${decodeURIComponent(mgmt.username || 'guest')}:${decodeURIComponent(mgmt.password || 'guest')}`).toString('base64')}` },
    }).then((r) => r.json() as Promise<{ arguments: Record<string, unknown> }>);
    t.is(queue.arguments['x-max-length-bytes'], 256 * 1024 * 1024, 'the changelog stream is bounded');
    t.is(queue.arguments['x-stream-max-segment-size-bytes'], 16 * 1024 * 1024);

    const again = make(applicationId, { minRecords: 1_000 });
    await again.start();
    await waitUntil(() => again.taskIds().length === 2, 'both tasks restored', 120_000);
    const expected = Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`k${i}`, UPDATES / KEYS] as const).sort(([x], [y]) => x.localeCompare(y)));
    t.deepEqual(contents(again), expected);
    t.log(`restored ${restored(again)} records after ${UPDATES} updates`);
    // Per partition: 50 snapshot entries and a tail under min records plus a commit's batch.
    t.true(restored(again) <= 2 * (50 + 1_000 + 1_000), `restored ${restored(again)}, not the history`);
    await again.close();

    // A fresh application replaying the whole input ends in the same state.
    const replay = make(`${applicationId}-replay`, false);
    await replay.start();
    await waitUntil(() => replay.recordsProcessed() >= UPDATES, 'the replay to count everything', 120_000);
    t.deepEqual(contents(replay), expected);
  });
}
