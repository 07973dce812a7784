/**
 * The registry serdes on the embedded (in-process) registry: wire format, validation before
 * registration, typed errors for payloads that cannot be decoded, registry selection.
 */
import test from 'ava';
import avsc from 'avsc';
import { AvroSerializer, SerdeType, SubjectNameStrategyType } from '@confluentinc/schemaregistry';
import { avroSerde, avroValueSerde, readWireHeader } from './serde.ts';
import { embeddedRegistry, registryFromEnv, remoteRegistry } from './registry.ts';
import { DeserializationError, RecordValidationError, SchemaRegistryError, type DeserializationReason } from './errors.ts';
import { sampleValue } from './samples.ts';
import { TOPICS, schemaText, topicNames, topicType } from './topics.ts';
import { plain } from './plain.ts';

test('every topic round-trips; the bytes are magic byte 0, the registered id, then plain Avro', async (t) => {
  const { client } = embeddedRegistry();
  for (const topic of topicNames()) {
    const serde = avroValueSerde(client, topic);
    const value = sampleValue(topic);
    const bytes = await serde.serialize(topic, value);
    const id = await client.getId(`${topic}-value`, { schemaType: 'AVRO', schema: schemaText(TOPICS[topic].record) }, false);
    const [schemaId, body] = readWireHeader(topic, bytes);
    t.is(bytes[0], 0, topic);
    t.is(schemaId, id, topic);
    t.deepEqual(plain(topicType(topic).fromBuffer(body)), value, topic);
    t.deepEqual(await serde.deserialize(topic, bytes), value, topic);
  }
});

test("the bytes are exactly what the client library's AvroSerializer writes for the same schema id", async (t) => {
  const { client } = embeddedRegistry();
  for (const topic of topicNames()) {
    const value = sampleValue(topic);
    const ours = await avroValueSerde(client, topic).serialize(topic, value);
    const library = new AvroSerializer(client, SerdeType.VALUE, {
      useSchemaId: ours.readInt32BE(1),
      subjectNameStrategyType: SubjectNameStrategyType.TOPIC,
    });
    t.deepEqual(await library.serialize(topic, value), ours, topic);
  }
});

test('an invalid value is refused before anything is registered', async (t) => {
  const { client } = embeddedRegistry();
  const serde = avroValueSerde(client, 'order-created');
  const value = sampleValue('order-created');
  const bad = { ...value, products: [value.products[0], { productId: 'p-2', quantity: '3' }] };
  const err = await t.throwsAsync(serde.serialize('order-created', bad as never), { instanceOf: RecordValidationError });
  t.is(err?.topic, 'order-created');
  t.deepEqual(err?.problems.map((p) => p.message), [
    'products[1].productId: expected uuid, got "p-2" (string, not a uuid)',
    'products[1].quantity: expected int, got "3" (string)',
  ]);
  t.regex(err?.message ?? '', /^order-created: invalid com\.orderstream\.stock\.StockDecreaseRequestMessage: products\[1\]\.productId/);
  t.deepEqual(await client.getAllSubjects(), []);
});

test('the subject follows the topic passed in, so one serde can write to several topics', async (t) => {
  const { client } = embeddedRegistry();
  const serde = avroValueSerde(client, 'order-status-topic');
  const value = sampleValue('order-status-topic');
  await serde.serialize('order-status-topic', value);
  const copy = await serde.serialize('app-order-status-repartition', value);
  t.deepEqual((await client.getAllSubjects()).sort(), ['app-order-status-repartition-value', 'order-status-topic-value']);
  t.deepEqual(await serde.deserialize('app-order-status-repartition', copy), value);
});

test('without auto-registration an unregistered schema is a typed error', async (t) => {
  const { client } = embeddedRegistry();
  const serde = avroValueSerde(client, 'chat-topic', { autoRegister: false });
  const err = await t.throwsAsync(serde.serialize('chat-topic', sampleValue('chat-topic')), { instanceOf: SchemaRegistryError });
  t.is(err?.failure, 'not-registered');
  t.is(err?.subject, 'chat-topic-value');
  // Once registered (as `npm run contracts -- register` would), the same serde works.
  await avroValueSerde(client, 'chat-topic').serialize('chat-topic', sampleValue('chat-topic'));
  t.is((await serde.serialize('chat-topic', sampleValue('chat-topic')))[0], 0);
});

async function corrupted(transform: (bytes: Buffer) => Buffer) {
  const { client } = embeddedRegistry();
  const serde = avroValueSerde(client, 'order-placed');
  const bytes = await serde.serialize('order-placed', sampleValue('order-placed'));
  return { serde, bytes: transform(bytes), id: bytes.readInt32BE(1) };
}

const cases: { title: string; reason: DeserializationReason; transform: (b: Buffer) => Buffer; hasId: boolean; detail: RegExp }[] = [
  { title: 'wrong magic byte', reason: 'bad-magic-byte', hasId: false, detail: /first byte is 0x01/, transform: (b) => Buffer.concat([Buffer.from([1]), b.subarray(1)]) },
  { title: 'JSON instead of Avro', reason: 'bad-magic-byte', hasId: false, detail: /first byte is 0x7b/, transform: () => Buffer.from('{"orderId":"x"}') },
  { title: 'empty payload', reason: 'empty', hasId: false, detail: /empty/, transform: () => Buffer.alloc(0) },
  { title: 'header cut short', reason: 'truncated-header', hasId: false, detail: /3 bytes/, transform: (b) => b.subarray(0, 3) },
  { title: 'unknown schema id', reason: 'unknown-schema-id', hasId: true, detail: /no schema with this id/, transform: (b) => { const c = Buffer.from(b); c.writeInt32BE(987_654, 1); return c; } },
  { title: 'truncated body', reason: 'truncated-body', hasId: true, detail: /truncated/, transform: (b) => b.subarray(0, b.length - 10) },
  { title: 'trailing bytes', reason: 'trailing-bytes', hasId: true, detail: /trailing/, transform: (b) => Buffer.concat([b, Buffer.from([1, 2, 3])]) },
];

for (const c of cases) {
  test(`a payload with ${c.title} raises DeserializationError(${c.reason})`, async (t) => {
    const { serde, bytes, id } = await corrupted(c.transform);
    const err = await t.throwsAsync(serde.deserialize('order-placed', bytes), {
      instanceOf: DeserializationError,
    });
    t.is(err?.reason, c.reason);
    t.is(err?.topic, 'order-placed');
    t.is(err?.retriable, false);
    if (c.hasId) t.is(err?.schemaId, c.reason === 'unknown-schema-id' ? 987_654 : id);
    else t.is(err?.schemaId, undefined);
    t.regex(err?.message ?? '', new RegExp(`^order-placed: cannot deserialize value.*${c.reason}`));
    t.regex(err?.message ?? '', c.detail);
  });
}

test('records of a schema the reader cannot resolve raise incompatible-schema', async (t) => {
  const { client } = embeddedRegistry();
  const writer = avroSerde<{ orderId: string; qty: string }>(client, {
    type: 'record',
    name: 'StockDecreaseRequestMessage',
    namespace: 'com.orderstream.stock',
    fields: [{ name: 'orderId', type: 'string' }, { name: 'products', type: 'string' }],
  });
  const bytes = await writer.serialize('order-created', { orderId: 'x', products: 'many' } as never);
  const err = await t.throwsAsync(avroValueSerde(client, 'order-created').deserialize('order-created', bytes), {
    instanceOf: DeserializationError,
  });
  t.is(err?.reason, 'incompatible-schema');
  t.regex(err?.message ?? '', /cannot be read as com\.orderstream\.stock\.StockDecreaseRequestMessage/);
});

test('a registry that cannot be reached is retriable, not a poison record', async (t) => {
  const { client } = embeddedRegistry();
  const bytes = await avroValueSerde(client, 'users-topic').serialize('users-topic', sampleValue('users-topic'));
  // Nothing listens on port 1.
  const down = remoteRegistry('http://127.0.0.1:1/apis/ccompat/v7');
  const err = await t.throwsAsync(avroValueSerde(down.client, 'users-topic').deserialize('users-topic', bytes), {
    instanceOf: DeserializationError,
  });
  t.is(err?.reason, 'registry-unavailable');
  t.true(err?.retriable);
});

test('registryFromEnv: embedded without SCHEMA_REGISTRY_URL (one per process), remote with it', (t) => {
  const a = registryFromEnv({});
  t.is(a.kind, 'embedded');
  t.is(a.url, undefined);
  t.is(registryFromEnv({ SCHEMA_REGISTRY_URL: '  ' }), a, 'blank counts as unset; the same embedded registry');
  const r = registryFromEnv({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7/' });
  t.is(r.kind, 'remote');
  t.is(r.url, 'http://127.0.0.1:8081/apis/ccompat/v7');
  t.is(registryFromEnv({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7/' }), r);
});

test('serdes of the embedded registry agree on ids across serde instances', async (t) => {
  const { client } = registryFromEnv({});
  const producerSide = avroValueSerde(client, 'stock-release-topic');
  const consumerSide = avroValueSerde(client, 'stock-release-topic');
  const value = sampleValue('stock-release-topic');
  t.deepEqual(await consumerSide.deserialize('stock-release-topic', await producerSide.serialize('stock-release-topic', value)), value);
  t.true(avsc.Type.isType(topicType('stock-release-topic'), 'record'));
});
