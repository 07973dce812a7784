/**
 * Local checkpoints of persistent stores on the real brokers: a clean restart of an instance
 * restores only the changelog another instance wrote meanwhile (the marker offsets and the seek
 * past the head work on Kafka's compacted changelogs and RabbitMQ streams), and the store equals a
 * full replay. The memory-transport cases, unclean restarts included, are in
 * processors/engine/runtime/local-checkpoint.test.ts.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamsApp, StreamsBuilder, type KeyValueStore, type ProcessingGuarantee } from '../../processors/engine/index.ts';
import { KafkaTransport, RabbitTransport, type Transport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { waitUntil } from '../conformance/suite.ts';

const e = endpoints();
const targets: { name: string; guarantee: ProcessingGuarantee; make: () => Transport }[] = [
  { name: 'kafka', guarantee: 'at_least_once', make: () => new KafkaTransport({ brokers: e.kafkaBrokers, sessionTimeoutMs: 6000 }) },
  { name: 'kafka', guarantee: 'exactly_once', make: () => new KafkaTransport({ brokers: e.kafkaBrokers, sessionTimeoutMs: 6000 }) },
  { name: 'rabbit', guarantee: 'exactly_once', make: () => new RabbitTransport({ url: e.rabbitUrl, managementUrl: e.rabbitManagementUrl }) },
];

for (const target of targets) {
  test.serial(`${target.name} (${target.guarantee}): a clean restart restores only the changelog tail past the local checkpoint`, async (t) => {
    const id = randomUUID().slice(0, 8);
    const input = `lc-in-${id}`;
    const applicationId = `lc-app-${id}`;
    const root = mkdtempSync(join(tmpdir(), 'local-checkpoint-'));
    const transport = target.make();
    const admin = transport.admin();
    await admin.createTopics([{ name: input, partitions: 1, kind: 'replayable' }]);
    const producer = transport.producer();
    await producer.connect();
    const apps: StreamsApp[] = [];
    t.teardown(async () => {
      for (const a of apps) await a.close().catch(() => undefined);
      await producer.disconnect();
      await admin.deleteGroups([applicationId]).catch(() => undefined);
      await admin.deleteTopics([input, ...(apps[0]?.internalTopicNames() ?? [])]).catch(() => undefined);
      await transport.close();
      rmSync(root, { recursive: true, force: true });
    });
    const send = (n: number, from: number) => producer.send(Array.from({ length: n }, (_, i) => ({
      topic: input, key: Buffer.from(JSON.stringify(`k${(from + i) % 3}`)), value: Buffer.from('"x"'),
    })));
    const start = async (instance: string) => {
      const b = new StreamsBuilder();
      b.stream<string, string>(input).groupByKey().count({ storeName: 'n', persistent: true });
      const app = new StreamsApp(b.build(), {
        applicationId, transport, guarantee: target.guarantee, instanceId: instance, stateDir: join(root, instance), commitIntervalMs: 200, logger: () => {},
      });
      apps.push(app);
      await app.start();
      await waitUntil(() => app.taskIds().length === 1, 'the task assigned', 60_000);
      return app;
    };
    const restored = (app: StreamsApp) => app.metrics.snapshot('0_0')?.restoredRecords ?? 0;
    const contents = (app: StreamsApp) => app.stores<KeyValueStore<string, number>>('n')[0]!.all().map((kv) => [kv.key, kv.value]);

    const a = await start('a');
    await send(30, 0);
    await waitUntil(() => a.recordsProcessed() === 30, '30 records', 60_000);
    await a.close();
    const b = await start('b');
    const written = restored(b);
    await send(12, 30);
    await waitUntil(() => b.recordsProcessed() === 12, '12 more records', 60_000);
    await b.close();
    const again = await start('a');
    const tail = restored(again);
    const got = contents(again);
    await again.close();
    const fresh = await start('c');
    const full = restored(fresh);
    t.log(`restored: first instance's ${written}, tail ${tail}, full ${full}`);
    t.true(written > 0 && full > written);
    t.is(tail, full - written, 'only what the other instance wrote');
    t.deepEqual(got, contents(fresh), 'the same store as a full replay');
    t.deepEqual(got, [['k0', 14], ['k1', 14], ['k2', 14]]);
  });
}
