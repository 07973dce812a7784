/**
 * One scenario for the read-model projector, run on every transport and persistence: orders whose
 * status events come out of order, repeated and before their placement, a multi-seller order, a
 * chat message sent twice, stock changelog entries with a tombstone and a marker, and one poison
 * record per topic. The views must end up right, every poison record must be on the dead-letter
 * topic with its reason, and a restarted projector must take up where it committed.
 */
import type { ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import type { Client } from '@confluentinc/schemaregistry';
import type { ConsumedRecord, Consumer, Producer, Transport } from '../../transports/index.ts';
import type { Persistence } from '../../persistence/types.ts';
import { avroValueSerde, type ChatMessage, type OrderPlaced, type OrderStatus, type OrderStatusChanged, type TopicName, type TopicValue } from '../../schemas/index.ts';
import { registryContracts, type Contracts, type Env } from '../../processors/common/index.ts';
import { DeadLetterHeaders, MARKER_HEADER, MARKER_KEY } from '../../processors/engine/index.ts';
import type { StoredLevel } from '../../processors/stock/stores.ts';
import { startProjection, type RunningProjection } from '../../processors/read-model/index.ts';
import {
  CHAT_VIEW, ORDERS_VIEW, PRODUCTS_COLLECTION, STOCK_VIEW, type ChatView, type OrderView, type ProductDoc, type StockView,
} from '../../processors/read-model/views.ts';

/** How long a wait may take before it is a failure (never an assertion on time). */
export const BOUND_MS = 60_000;

export interface ScenarioTarget {
  readonly transport: Transport;
  readonly registry: Client;
  readonly persistence: Persistence;
  /** Every topic, group and subject of the run starts with it. */
  readonly prefix: string;
}

/** Polls `probe` until it answers true; fails after `ms` with what it was waiting for. */
export async function eventually(probe: () => Promise<boolean>, what: () => string, ms = BOUND_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The projector's settings for a run: everything named from the prefix, fast retries. */
export function projectorEnv(prefix: string): Env {
  return { APP_ID: `${prefix}projector`, STOCK_APP_ID: `${prefix}stock`, TOPIC_PARTITIONS: '3', PROJECTION_RETRY_BACKOFF_MS: '20', PROJECTION_RETRY_MAX_BACKOFF_MS: '200' };
}

/** Writes contract records (Avro, as the real writers do) and raw bytes. */
export class Feeder {
  readonly #serdes = new Map<TopicName, ReturnType<typeof avroValueSerde>>();
  constructor(readonly producer: Producer, readonly registry: Client, readonly contracts: Contracts) {}

  async send<T extends TopicName>(name: T, key: string, value: TopicValue<T>, headers?: Record<string, string>): Promise<void> {
    let serde = this.#serdes.get(name);
    if (serde === undefined) this.#serdes.set(name, (serde = avroValueSerde(this.registry, name)));
    const topic = this.contracts.topic(name);
    await this.producer.send([{ topic, key: Buffer.from(key), value: await serde.serialize(topic, value as never), ...(headers ? { headers } : {}) }]);
  }

  async sendRaw(topic: string, key: Buffer | null, value: Buffer | null, headers?: Record<string, string>): Promise<{ partition: number; offset: number | undefined }> {
    const [meta] = await this.producer.send([{ topic, key, value, ...(headers ? { headers } : {}) }]);
    return { partition: meta!.partition, offset: meta!.offset };
  }
}

/** Collects every record of a topic (its own group). */
export async function collect(transport: Transport, topic: string, groupId: string): Promise<{ records: ConsumedRecord[]; consumer: Consumer }> {
  const records: ConsumedRecord[] = [];
  const consumer = transport.consumer({ groupId, topics: [topic], autoOffsetReset: 'earliest' });
  await consumer.connect();
  await consumer.run(async (batch) => { records.push(...batch.records); });
  return { records, consumer };
}

const T0 = 1_760_000_000_000;
const PATH: [OrderStatus | null, OrderStatus][] = [
  [null, 'CREATED'], ['CREATED', 'PENDING_PAYMENT'], ['PENDING_PAYMENT', 'PAYMENT_COMPLETED'], ['PAYMENT_COMPLETED', 'PREPARING'], ['PREPARING', 'SHIPMENT_STARTED'],
];

export function statusEvent(orderId: string, sequence: number): OrderStatusChanged {
  const [from, to] = PATH[sequence - 1]!;
  return { eventId: randomUUID(), orderId, from, to, reason: null, at: T0 + sequence * 1000, sequence };
}

function product(name: string, sellerId: string, price: number): ProductDoc {
  const productId = randomUUID();
  return { _id: productId, productId, sellerId, name, price, createdAt: T0 };
}

function placedEvent(orderId: string, lines: OrderPlaced['lines']): OrderPlaced {
  return {
    eventId: randomUUID(), orderId, customerId: randomUUID(), lines, fulfilment: 'DELIVERY',
    delivery: { address: '1 Main St', addressDetail: '', zipcode: '12345', phone: '555-0100', name: 'Ann', deliveryMemo: 'ring twice' },
    idempotencyKey: null, placedAt: T0,
  };
}

const level = (productId: string, sellerId: string, available: number, updatedAt: number): Buffer =>
  Buffer.from(JSON.stringify({ productId, sellerId, available, updatedAt } satisfies StoredLevel));

/** The whole scenario; `t` gets the teardown of everything it starts (not of the target). */
export async function runScenario(t: ExecutionContext, target: ScenarioTarget): Promise<void> {
  const { transport, registry, persistence, prefix } = target;
  const contracts = registryContracts(registry, prefix);
  const env = projectorEnv(prefix);
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => { for (const stop of stops.reverse()) await stop().catch(() => undefined); });

  const sellerA = randomUUID();
  const sellerB = randomUUID();
  const kettle = product('kettle', sellerA, 2500);
  const mug = product('mug', sellerB, 700);
  const products = await persistence.collection<ProductDoc>(PRODUCTS_COLLECTION);
  await products.insert(kettle);
  await products.insert(mug);

  let projection: RunningProjection = await startProjection({ transport, registry, contracts, persistence, env, logger: () => {} });
  stops.push(() => projection.close());
  const producer = transport.producer();
  await producer.connect();
  stops.push(() => producer.disconnect());
  const feed = new Feeder(producer, registry, contracts);
  const dlq = await collect(transport, projection.deadLetterTopic, `${prefix}dlq-reader`);
  stops.push(() => dlq.consumer.disconnect());

  const garbage = Buffer.from('definitely not avro');
  const poison: { topic: string; partition: number; offset: number | undefined }[] = [];
  const sendPoison = async (topic: string, key: string, value: Buffer) => poison.push({ topic, ...(await feed.sendRaw(topic, Buffer.from(key), value)) });

  // Order A: two sellers; a poison record ahead of it in its partitions; status events 3, 1, 4, 2 and repeats.
  const orderA = randomUUID();
  const placedA = placedEvent(orderA, [{ productId: kettle.productId, quantity: 2, unitPrice: 2400 }, { productId: mug.productId, quantity: 3, unitPrice: 700 }]);
  await sendPoison(contracts.topic('order-placed'), orderA, garbage);
  await feed.send('order-placed', orderA, placedA);
  const statusA = [1, 2, 3, 4].map((n) => statusEvent(orderA, n));
  await sendPoison(contracts.topic('order-status-topic'), orderA, garbage);
  for (const i of [2, 0, 3, 1, 2, 0]) await feed.send('order-status-topic', orderA, statusA[i]!);

  // Order B: its status events come before it was placed.
  const orderB = randomUUID();
  const statusB = [1, 2, 3].map((n) => statusEvent(orderB, n));
  await feed.send('order-status-topic', orderB, statusB[0]!);
  await feed.send('order-status-topic', orderB, statusB[1]!);
  const placedB = placedEvent(orderB, [{ productId: mug.productId, quantity: 1, unitPrice: 700 }]);
  await feed.send('order-placed', orderB, placedB);
  // A reader's end-of-topic marker (read-to-end.ts) is no event: skipped, not dead-lettered.
  await feed.sendRaw(contracts.topic('order-placed'), MARKER_KEY, null, { [MARKER_HEADER]: randomUUID() });

  // A chat message sent twice, after a poison record.
  const message: ChatMessage = { messageId: randomUUID(), orderId: orderA, fromUserId: placedA.customerId, toUserId: sellerA, text: 'when will it ship?', sentAt: T0 + 5000 };
  await sendPoison(contracts.topic('chat-topic'), orderA, garbage);
  await feed.send('chat-topic', orderA, message);
  await feed.send('chat-topic', orderA, message);

  // The stock level store's changelog: two levels of P1, P2 then its tombstone, a restore marker, a poison entry, P3.
  const changelog = projection.topics.find((x) => x.endsWith('-stock-levels-changelog'))!;
  const [p1, p2, p3] = [randomUUID(), randomUUID(), randomUUID()];
  await feed.sendRaw(changelog, Buffer.from(p1), level(p1, sellerA, 10, T0));
  await feed.sendRaw(changelog, Buffer.from(p1), level(p1, sellerA, 7, T0 + 1));
  await feed.sendRaw(changelog, Buffer.from(p2), level(p2, sellerB, 5, T0));
  await feed.sendRaw(changelog, Buffer.from(p2), null);
  await feed.sendRaw(changelog, MARKER_KEY, null, { [MARKER_HEADER]: randomUUID() });
  await sendPoison(changelog, p1, Buffer.from('{"available": not json'));
  await feed.sendRaw(changelog, Buffer.from(p3), level(p3, sellerB, 3, T0 + 2));

  const orders = await persistence.collection<OrderView>(ORDERS_VIEW);
  const chat = await persistence.collection<ChatView>(CHAT_VIEW);
  const stock = await persistence.collection<StockView>(STOCK_VIEW);
  const snapshot = async () => ({
    a: await orders.get(orderA), b: await orders.get(orderB), chat: await chat.find({ orderId: orderA }),
    stock: await stock.find({ _id: { $in: [p1, p2, p3] } }), dlq: dlq.records.length,
  });
  let last: Awaited<ReturnType<typeof snapshot>> | undefined;
  await eventually(async () => {
    last = await snapshot();
    return last.a?.sequence === 4 && last.a.timeline.length === 4 && last.b?.customerId != null && last.chat.length === 1
      && last.stock.length === 2 && last.stock.some((s) => s._id === p3) && last.dlq >= poison.length;
  }, () => `the views and ${poison.length} dead letters; last seen ${JSON.stringify(last)}`);

  const a = (await orders.get(orderA))!;
  t.is(a.customerId, placedA.customerId);
  t.is(a.status, 'PREPARING');
  t.deepEqual(a.timeline.map((e) => [e.sequence, e.from, e.to, e.eventId]), statusA.map((e) => [e.sequence, e.from, e.to, e.eventId]));
  t.is(a.lastUpdated, statusA[3]!.at);
  t.deepEqual(a.lines, [
    { productId: kettle.productId, quantity: 2, unitPrice: 2400, sellerId: sellerA, name: 'kettle' },
    { productId: mug.productId, quantity: 3, unitPrice: 700, sellerId: sellerB, name: 'mug' },
  ]);
  t.deepEqual(a.sellerIds, [sellerA, sellerB]);
  t.is(a.total, 2 * 2400 + 3 * 700);
  t.deepEqual(a.delivery, placedA.delivery);
  t.is(a.placedAt, T0);
  const mine = await orders.find({ customerId: placedA.customerId });
  t.deepEqual(mine.map((o) => o._id), [orderA]);
  t.deepEqual((await orders.find({ sellerIds: sellerB })).map((o) => o._id).sort(), [orderA, orderB].sort(), 'a seller finds the orders with a line of theirs');

  const b = (await orders.get(orderB))!;
  t.is(b.customerId, placedB.customerId);
  t.is(b.status, 'PENDING_PAYMENT', 'placement after its status events keeps the status');
  t.deepEqual(b.timeline.map((e) => e.sequence), [1, 2]);
  t.deepEqual(b.sellerIds, [sellerB]);

  t.deepEqual((await chat.find({ orderId: orderA })).map((m) => ({ ...m })), [{ _id: message.messageId, ...message }]);

  t.deepEqual(sortById(await stock.find({ _id: { $in: [p1, p2, p3] } })).map((s) => ({ ...s })), sortById([
    { _id: p1, productId: p1, sellerId: sellerA, available: 7, updatedAt: T0 + 1 },
    { _id: p3, productId: p3, sellerId: sellerB, available: 3, updatedAt: T0 + 2 },
  ]));

  t.is(dlq.records.length, poison.length, 'one dead letter per poison record, nothing else');
  const letters = dlq.records.map((r) => ({
    topic: header(r, DeadLetterHeaders.topic), partition: Number(header(r, DeadLetterHeaders.partition)), offset: Number(header(r, DeadLetterHeaders.offset)),
    stage: header(r, DeadLetterHeaders.stage), error: header(r, DeadLetterHeaders.error), reason: header(r, DeadLetterHeaders.reason), value: r.value,
  }));
  for (const p of poison) {
    const letter = letters.find((l) => l.topic === p.topic);
    if (letter === undefined) { t.fail(`no dead letter from ${p.topic}`); continue; }
    t.is(letter.stage, 'deserialization');
    t.is(letter.partition, p.partition);
    if (p.offset !== undefined) t.is(letter.offset, p.offset);
    if (p.topic === changelog) {
      t.is(letter.error, 'UndecodableRecordError');
      t.regex(letter.reason, /is not JSON/);
      t.deepEqual(letter.value, Buffer.from('{"available": not json'));
    } else {
      t.is(letter.error, 'DeserializationError');
      t.regex(letter.reason, /bad-magic-byte/);
      t.deepEqual(letter.value, garbage);
    }
  }

  // Restarted with the same group: committed records are not redone, new ones are applied. Each
  // new record follows a poison record in its partition, so a poison record redone would be
  // dead-lettered again before the new record shows.
  await projection.close();
  projection = await startProjection({ transport, registry, contracts, persistence, env, logger: () => {} });
  const fifthA = statusEvent(orderA, 5);
  await feed.send('order-status-topic', orderA, fifthA);
  await feed.send('order-status-topic', orderB, statusB[2]!);
  await feed.send('order-status-topic', orderB, statusB[0]!);
  const again: ChatMessage = { ...message, messageId: randomUUID(), text: 'thanks' };
  await feed.send('chat-topic', orderA, again);
  await feed.sendRaw(changelog, Buffer.from(p1), level(p1, sellerA, 6, T0 + 3));
  await eventually(async () => (await orders.get(orderB))?.sequence === 3 && (await orders.get(orderA))?.sequence === 5
    && (await chat.get(again.messageId)) !== undefined && (await stock.get(p1))?.available === 6, () => 'the records sent after the restart');
  const b2 = (await orders.get(orderB))!;
  t.is(b2.status, 'PAYMENT_COMPLETED');
  t.deepEqual(b2.timeline.map((e) => e.sequence), [1, 2, 3]);
  t.is(b2.customerId, placedB.customerId);
  t.is((await orders.get(orderA))!.status, 'SHIPMENT_STARTED');
  t.is(dlq.records.length, poison.length, 'nothing dead-lettered again after the restart');
}

function header(r: ConsumedRecord, name: string): string {
  return r.headers[name]?.toString('utf8') ?? '';
}

function sortById<T extends { _id: string }>(docs: readonly T[]): T[] {
  return [...docs].sort((x, y) => (x._id < y._id ? -1 : 1));
}
