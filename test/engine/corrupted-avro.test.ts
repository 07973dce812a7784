/**
 * Issue 4's dead-letter path, end to end: Avro records through the registry's serde on real
 * Kafka and RabbitMQ; a wrong magic byte, an unknown schema id and a truncated body each go to the
 * dead-letter topic with the deserializer's reason, and the records after them are processed.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { DeadLetterHeaders, Serdes, StreamsApp, StreamsBuilder } from '../../processors/engine/index.ts';
import { avroValueSerde, remoteRegistry, sampleValue } from '../../schemas/index.ts';
import { KafkaTransport, RabbitTransport, type ConsumedRecord, type Transport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { retireSubjects } from '../services/subjects.ts';
import { waitUntil } from '../conformance/suite.ts';

const e = endpoints();
const targets: [string, () => Transport][] = [
  ['kafka', () => new KafkaTransport({ brokers: e.kafkaBrokers, sessionTimeoutMs: 6000 })],
  ['rabbit', () => new RabbitTransport({ url: e.rabbitUrl, managementUrl: e.rabbitManagementUrl })],
];

for (const [name, make] of targets) {
  test.serial(`${name}: corrupted Avro payloads go to the dead-letter topic with the reason; the stream goes on`, async (t) => {
    const id = randomUUID().slice(0, 8);
    const input = `avro-in-${id}`;
    const output = `avro-out-${id}`;
    const appId = `avro-app-${id}`;
    const transport = make();
    const admin = transport.admin();
    const { client } = remoteRegistry(e.schemaRegistryUrl);
    const serde = avroValueSerde(client, 'stock-response-topic');
    await admin.createTopics([{ name: input, partitions: 1, kind: 'replayable' }, { name: output, partitions: 1, kind: 'replayable' }]);
    const b = new StreamsBuilder();
    b.stream(input, { keySerde: Serdes.string(), valueSerde: serde })
      .mapValues((v) => ({ ...v, message: `seen: ${v.message}` }))
      .to(output, { keySerde: Serdes.string(), valueSerde: serde });
    const app = new StreamsApp(b.build(), { applicationId: appId, transport, errors: { deserialization: 'dead-letter' }, logger: () => {} });
    const reader = transport.consumer({ groupId: `${appId}-reader`, topics: [output, `${appId}-dlq`] });
    t.teardown(async () => {
      await reader.disconnect().catch(() => undefined);
      await app.close().catch(() => undefined);
      await admin.deleteGroups([appId, `${appId}-reader`]).catch(() => undefined);
      await admin.deleteTopics([input, output, ...app.internalTopicNames()]).catch(() => undefined);
      await retireSubjects(client, [`${input}-value`, `${output}-value`]).catch(() => undefined);
      await transport.close();
    });
    await app.start();
    const value = sampleValue('stock-response-topic');
    const good = await serde.serialize(input, value);
    const badMagic = Buffer.concat([Buffer.from([7]), good.subarray(1)]);
    const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), good.subarray(5)]);
    const truncated = good.subarray(0, good.length - 4);
    const producer = transport.producer();
    await producer.connect();
    t.teardown(() => producer.disconnect());
    await producer.send([good, badMagic, unknownId, truncated, good].map((v, i) => ({ topic: input, key: Buffer.from(`k${i}`), value: v })));

    const out: ConsumedRecord[] = [];
    const dead: ConsumedRecord[] = [];
    await reader.connect();
    await reader.run(async (batch) => { (batch.topic === output ? out : dead).push(...batch.records); });
    await waitUntil(() => out.length >= 2 && dead.length >= 3, `outputs (${out.length}/2) and dead letters (${dead.length}/3)`, 90_000);

    t.deepEqual(out.map((r) => r.key!.toString()), ['k0', 'k4'], 'the records around the bad ones are processed');
    const decoded = await serde.deserialize(output, out[1]!.value!);
    t.is(decoded.message, `seen: ${value.message}`);
    const reasons = dead.map((r) => [r.key!.toString(), r.headers[DeadLetterHeaders.reason]!.toString()] as const);
    t.deepEqual(reasons.map(([k]) => k), ['k1', 'k2', 'k3']);
    t.regex(reasons[0]![1], /bad-magic-byte/);
    t.regex(reasons[1]![1], /unknown-schema-id/);
    t.regex(reasons[2]![1], /truncated-body|invalid-body/);
    t.deepEqual(dead.map((r) => r.headers[DeadLetterHeaders.offset]!.toString()), ['1', '2', '3']);
    t.true(dead[1]!.value!.equals(unknownId), 'the dead letter keeps the original bytes');
  });
}
