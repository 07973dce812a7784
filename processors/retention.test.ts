/**
 * Retention end to end on the memory transport: the four processors of the embedded job with real
 * Avro serdes, ORDER_RETENTION_MS short. Once the orders are terminal and the retention has
 * passed, every processor's per-order entries are tombstoned on its changelog topic (what a
 * restore reads), and an order still waiting for payment keeps its entries. Unit tests of each
 * processor's retention are beside its topology (processors/<team>/retention.test.ts).
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { MemoryTransport } from '../transports/index.ts';
import { embeddedRegistry, sampleValue, type OrderPlaced, type OrderStatus, type OrderStatusChanged, type TopicName, type TopicValue } from '../schemas/index.ts';
import { changelogName, type KeyValueStore } from './engine/index.ts';
import { registryContracts } from './common/index.ts';
import { startEmbeddedProcessors } from './embedded.ts';
import { waitUntil } from '../test/conformance/suite.ts';

const RETENTION_MS = 1_500;

/** Per-order stores, as `<app>-<store>-changelog` topics, and how their keys name the order. */
const STORES = [
  { topic: `order-processor-${changelogName('orders')}`, orderOf: (key: string) => key },
  { topic: `stock-processor-${changelogName('stock-reservations')}`, orderOf: (key: string) => key.split('/')[1]! },
  { topic: `payment-processor-${changelogName('payments')}`, orderOf: (key: string) => key.split('/')[0]! },
  { topic: `delivery-processor-${changelogName('deliveries')}`, orderOf: (key: string) => key },
];

test('after the retention every processor tombstones the entries of terminal orders on its changelog; a waiting order keeps them', async (t) => {
  const transport = new MemoryTransport();
  const contracts = registryContracts(embeddedRegistry().client);
  const job = await startEmbeddedProcessors(transport, contracts, {
    PG_PORT: '0', PG_DECLINE_RATE: '0', DELIVERY_FAILURE_RATE: '0', COMMIT_INTERVAL_MS: '20', ORDER_RETENTION_MS: String(RETENTION_MS),
  }, () => {});
  const producer = transport.producer();
  await producer.connect();
  const send = async <T extends TopicName>(topic: T, key: string, value: TopicValue<T>) => {
    const serde = contracts.produced(topic).valueSerde!;
    await producer.send([{ topic, key: Buffer.from(key), value: await serde.serialize(topic, value) }]);
  };
  const statuses = new Map<string, OrderStatus[]>();
  /** Changelog entries per topic: [orderId, tombstone?]. */
  const logged = new Map<string, [string, boolean][]>(STORES.map((s) => [s.topic, []]));
  const reader = transport.consumer({ groupId: 'retention-test-reader', topics: ['order-status-topic', ...STORES.map((s) => s.topic)] });
  await reader.connect();
  await reader.run(async (batch) => {
    for (const r of batch.records) {
      if (batch.topic === 'order-status-topic') {
        const change = await contracts.consumed('order-status-topic').valueSerde!.deserialize(batch.topic, r.value!) as OrderStatusChanged;
        statuses.set(change.orderId, [...(statuses.get(change.orderId) ?? []), change.to]);
        continue;
      }
      const store = STORES.find((s) => s.topic === batch.topic)!;
      logged.get(batch.topic)!.push([store.orderOf(r.key!.toString()), r.value === null]);
    }
  });
  const reached = (orderId: string, status: OrderStatus) => (statuses.get(orderId) ?? []).includes(status);
  const tombstoned = (topic: string, orderId: string) => logged.get(topic)!.some(([id, tomb]) => id === orderId && tomb);
  const written = (topic: string, orderId: string) => logged.get(topic)!.some(([id]) => id === orderId);
  try {
    const sellerId = randomUUID();
    const stocked = randomUUID();
    await send('stock-levels-topic', stocked, { productId: stocked, sellerId, available: 10, updatedAt: Date.now() });
    const completed: OrderPlaced = { ...sampleValue('order-placed'), lines: [{ productId: stocked, quantity: 3, unitPrice: 2_500 }] };
    const waiting: OrderPlaced = { ...sampleValue('order-placed'), lines: [{ productId: stocked, quantity: 1, unitPrice: 2_500 }] };
    const missing: OrderPlaced = { ...sampleValue('order-placed'), lines: [{ productId: randomUUID(), quantity: 1, unitPrice: 100 }] };
    for (const o of [completed, waiting, missing]) await send('users-topic', o.customerId, { ...sampleValue('users-topic'), id: o.customerId, role: 'BUYER' });
    for (const o of [completed, waiting, missing]) await send('order-placed', o.orderId, o);
    await waitUntil(() => reached(completed.orderId, 'PENDING_PAYMENT') && reached(waiting.orderId, 'PENDING_PAYMENT'), 'both orders awaiting payment');
    await send('order-command-topic', completed.orderId, {
      commandId: randomUUID(), orderId: completed.orderId, customerId: completed.customerId, type: 'PAY', paymentKey: 'pk-retention', amount: 7_500, reason: null, issuedAt: Date.now(),
    });
    await waitUntil(() => reached(completed.orderId, 'COMPLETED') && reached(missing.orderId, 'CANCELLED'), 'one order COMPLETED, one CANCELLED');
    const endedAt = Date.now();

    const everyTombstone = () => STORES.every((s) => tombstoned(s.topic, completed.orderId))
      && tombstoned(STORES[0]!.topic, missing.orderId) && tombstoned(STORES[1]!.topic, missing.orderId);
    await waitUntil(everyTombstone, 'tombstones of the ended orders on every changelog', 20_000);
    t.true(Date.now() - endedAt >= RETENTION_MS - 100, `not before the retention (after ${Date.now() - endedAt} ms)`);
    for (const s of STORES) t.true(tombstoned(s.topic, completed.orderId), `${s.topic}: the completed order`);
    // The waiting order's entries were written and are still there.
    t.true(written(STORES[0]!.topic, waiting.orderId) && written(STORES[1]!.topic, waiting.orderId));
    t.false(tombstoned(STORES[0]!.topic, waiting.orderId));
    t.false(tombstoned(STORES[1]!.topic, waiting.orderId));
    // And the stores agree with their changelogs.
    const orders = job.processors.find((p) => p.applicationId === 'order-processor')!.app.stores('orders') as KeyValueStore<string, unknown>[];
    t.true(orders.every((s) => s.get(completed.orderId) === undefined));
    t.true(orders.some((s) => s.get(waiting.orderId) !== undefined));
    t.is(job.pg!.stats().charges[completed.orderId], 1, 'charged once');
  } finally {
    await reader.disconnect();
    await producer.disconnect();
    await job.close();
    await transport.close();
  }
});
