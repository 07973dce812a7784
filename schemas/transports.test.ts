/**
 * Every contract message through the real brokers: serialized against the real registry,
 * produced and consumed through our transports on Kafka and on RabbitMQ. The wire bytes carry
 * magic byte 0 and the registered schema id, and are byte for byte the same on both brokers.
 * Topics, groups and subjects are per run and deleted afterwards.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { AvroSerializer, SchemaRegistryClient, SerdeType, SubjectNameStrategyType } from '@confluentinc/schemaregistry';
import { createTransport, type ConsumedRecord, type TransportConfig } from '../transports/index.ts';
import { endpoints } from '../scripts/endpoints.ts';
import { retireSubjects } from '../test/services/subjects.ts';
import { avroValueSerde, readWireHeader } from './serde.ts';
import { sampleValue } from './samples.ts';
import { keyOf, schemaText, topicNames, TOPICS, type TopicName } from './topics.ts';

const env = endpoints();
const prefix = `schemas-wire-${randomUUID().slice(0, 8)}-`;
const client = new SchemaRegistryClient({ baseURLs: [env.schemaRegistryUrl], maxRetries: 0 });

/** One value per contract topic, fixed for the run, and its bytes as each broker carried them. */
const values = new Map(topicNames().map((name) => [name, sampleValue(name)] as const));
const carried: Record<string, Map<TopicName, Buffer>> = {};

const brokers: [string, TransportConfig][] = [
  ['kafka', { transport: 'kafka', brokers: env.kafkaBrokers }],
  ['rabbit', { transport: 'rabbit', url: env.rabbitUrl, managementUrl: env.rabbitManagementUrl }],
];

for (const [name, config] of brokers) {
  test.serial(`${name}: every message type round-trips through the broker in the Confluent wire format`, async (t) => {
    const got = await roundTrip(t, config);
    carried[name] = got;
    for (const topic of topicNames()) {
      const bytes = got.get(topic);
      if (bytes === undefined) {
        t.fail(`${topic}: nothing arrived`);
        continue;
      }
      const [id] = readWireHeader(topic, bytes);
      t.is(bytes[0], 0, `${topic}: magic byte`);
      const registered = await client.getId(`${prefix}${topic}-value`, { schemaType: 'AVRO', schema: schemaText(TOPICS[topic].record) }, false);
      t.is(id, registered, `${topic}: the header's schema id is the registered one`);
      const library = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: id, subjectNameStrategyType: SubjectNameStrategyType.TOPIC });
      t.deepEqual(await library.serialize(`${prefix}${topic}`, values.get(topic)), bytes, `${topic}: the client library's AvroSerializer writes the same bytes`);
      t.deepEqual(await avroValueSerde(client, topic).deserialize(`${prefix}${topic}`, bytes), values.get(topic), topic);
    }
  });
}

test.serial('the same value has the same bytes on Kafka and on RabbitMQ', (t) => {
  const { kafka, rabbit } = carried;
  if (kafka === undefined || rabbit === undefined) return t.fail('a broker round trip failed');
  for (const topic of topicNames()) t.deepEqual(kafka.get(topic), rabbit.get(topic), topic);
});

async function roundTrip(t: ExecutionContext, config: TransportConfig): Promise<Map<TopicName, Buffer>> {
  const transport = createTransport(config);
  const group = `${prefix}group`;
  const topics = topicNames().map((name) => `${prefix}${name}`);
  await transport.admin().createTopics(topics.map((topic) => ({ name: topic, partitions: 1 })));
  t.teardown(async () => {
    try {
      await transport.admin().deleteGroups([group]);
      await transport.admin().deleteTopics(topics);
    } finally {
      await transport.close();
    }
  });

  const producer = transport.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const sent = new Map<TopicName, Buffer>();
  for (const name of topicNames()) {
    const value = values.get(name);
    const bytes = await avroValueSerde(client, name).serialize(`${prefix}${name}`, value as never);
    sent.set(name, bytes);
    await producer.send([{ topic: `${prefix}${name}`, key: keyOf(name, value as never), value: bytes }]);
  }

  const got = new Map<TopicName, Buffer>();
  const keys = new Map<TopicName, string>();
  const consumer = transport.consumer({ groupId: group, topics });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.run(async (batch) => {
    for (const r of batch.records as ConsumedRecord[]) {
      const name = r.topic.slice(prefix.length) as TopicName;
      if (r.value !== null) got.set(name, r.value);
      if (r.key !== null) keys.set(name, r.key.toString());
    }
    await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: (batch.records.at(-1)?.offset ?? -1) + 1 }]);
  });
  const deadline = Date.now() + 60_000;
  while (got.size < topics.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.is(got.size, topics.length, 'every topic delivered its record');
  for (const [name, bytes] of sent) {
    t.deepEqual(got.get(name), bytes, `${name}: the consumer saw the bytes the producer sent`);
    t.is(keys.get(name), keyOf(name, values.get(name) as never).toString(), `${name}: plain string key`);
  }
  return got;
}

test.after.always('delete the subjects this run registered', async () => {
  const mine = (await client.getAllSubjects()).filter((s) => s.startsWith(prefix));
  await retireSubjects(client, mine);
});
