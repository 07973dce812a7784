/**
 * A backlog bigger than any produce request may be, on the real broker: 12,000 records of 10 KB
 * (120 MB) wait in a topic created with the broker's default config (`max.message.bytes` 1 MiB)
 * before a pass-through application starts. Its commits carry megabytes per output partition;
 * every one must reach the output topic — exactly once under exactly_once, at least once under
 * at_least_once — and the application must still be running at the end.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { endpoints } from '../../scripts/endpoints.ts';
import { Serdes, StreamsApp, StreamsBuilder } from '../../processors/engine/index.ts';
import { KafkaTransport } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';

const RECORDS = 12_000;
const VALUE_BYTES = 10_000;
const PARTITIONS = 3;
const CHUNK = 1000;

for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  test.serial(`kafka (${guarantee}): a 120 MB backlog on default-config topics is processed whole`, async (t) => {
    const id = randomUUID().slice(0, 8);
    const input = `backlog-in-${id}`;
    const output = `backlog-out-${id}`;
    const applicationId = `backlog-app-${id}`;
    const readerGroup = `${applicationId}-reader`;
    const transport = new KafkaTransport({ brokers: endpoints().kafkaBrokers, sessionTimeoutMs: 10_000 });
    const admin = transport.admin();
    // No config entries: the broker's defaults, max.message.bytes included.
    await admin.createTopics([input, output].map((name) => ({ name, partitions: PARTITIONS })));
    const b = new StreamsBuilder();
    b.stream<string, Buffer>(input, { keySerde: Serdes.string(), valueSerde: Serdes.buffer() })
      .mapValues((v) => v)
      .to(output, { keySerde: Serdes.string(), valueSerde: Serdes.buffer() });
    const app = new StreamsApp(b.build(), { applicationId, transport, guarantee, logger: (l) => t.log(l) });
    const producer = transport.producer();
    const reader = transport.consumer({ groupId: readerGroup, topics: [output], autoOffsetReset: 'earliest', maxBatchSize: CHUNK });
    t.teardown(async () => {
      await app.close().catch(() => undefined);
      await reader.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.deleteGroups([applicationId, readerGroup]).catch(() => undefined);
      await admin.deleteTopics([input, output, ...app.internalTopicNames()]).catch(() => undefined);
      await transport.close();
    });

    await producer.connect();
    t.true(await producer.maxRecordBytes(output) < 1_048_588, 'the default limit, read from the broker');
    const filler = Buffer.alloc(VALUE_BYTES - 8, 0x61);
    for (let i = 0; i < RECORDS; i += CHUNK) {
      // 10 MB per send, over 3 MB per partition: the transport splits it as it must the engine's commits.
      await producer.send(Array.from({ length: CHUNK }, (_, j) => {
        const n = i + j;
        const value = Buffer.concat([Buffer.from(String(n).padStart(8, '0')), filler]);
        return { topic: input, key: Buffer.from(`k-${n}`), value };
      }));
    }

    const seen = new Map<number, number>();
    let wrongSize = 0;
    await reader.connect();
    await reader.run(async (batch) => {
      for (const r of batch.records) {
        if (r.value?.length !== VALUE_BYTES) wrongSize++;
        const n = Number(r.value!.subarray(0, 8).toString());
        seen.set(n, (seen.get(n) ?? 0) + 1);
      }
    });
    await app.start();
    const failed = app.stopped().then(() => 'closed', (e: unknown) => `stopped: ${String(e)}`);
    let outcome: string | undefined;
    void failed.then((o) => { outcome = o; });
    await waitUntil(() => seen.size >= RECORDS || outcome !== undefined, `${RECORDS} distinct outputs (have ${seen.size})`, 100_000);
    t.is(outcome, undefined, 'the application is still running');
    t.is(app.state, 'RUNNING');
    t.is(seen.size, RECORDS, 'every input has its output');
    t.is(wrongSize, 0, 'outputs whole');
    if (guarantee === 'exactly_once') {
      // A late duplicate would come right behind; give it the time of a few commits.
      await new Promise((r) => setTimeout(r, 1000));
      t.deepEqual([...seen.values()].filter((c) => c !== 1), [], 'each output once');
    }
    t.is(app.recordsProcessed(), RECORDS, 'nothing processed twice within the run');
  });
}

test.serial('kafka: the record limit is the topic\'s own max.message.bytes, read from the broker', async (t) => {
  const transport = new KafkaTransport({ brokers: endpoints().kafkaBrokers });
  const raw = transport.kafka.admin();
  const topic = `limit-${randomUUID().slice(0, 8)}`;
  await raw.connect();
  const producer = transport.producer();
  t.teardown(async () => {
    await producer.disconnect().catch(() => undefined);
    await raw.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await raw.disconnect();
    await transport.close();
  });
  await raw.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(3 * 1024 * 1024) }] }], waitForLeaders: true });
  await producer.connect();
  const limit = await producer.maxRecordBytes(topic);
  t.true(limit > 3 * 1024 * 1024 - 1024 && limit < 3 * 1024 * 1024, `limit ${limit}`);
  // A 2 MiB record: over the broker's default, within this topic's limit.
  const [meta] = await producer.send([{ topic, key: Buffer.from('k'), value: Buffer.alloc(2 * 1024 * 1024) }]);
  t.is(meta?.offset, 0);
});
