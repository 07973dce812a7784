/**
 * The embedded main job end to end: all four processors and the payment-gateway simulator in this
 * process on the memory transport, with real Avro serdes over the in-process registry. The
 * broker-backed runs of the same saga are test/saga/e2e-*.test.ts.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { MemoryTransport } from '../transports/index.ts';
import { embeddedRegistry, sampleValue, type OrderPlaced, type OrderStatus, type OrderStatusChanged, type TopicName, type TopicValue } from '../schemas/index.ts';
import type { KeyValueStore } from './engine/index.ts';
import { registryContracts } from './common/index.ts';
import { startEmbeddedProcessors } from './embedded.ts';

test('the embedded job takes an order from placement to COMPLETED, and cancels one it has no stock for', async (t) => {
  const transport = new MemoryTransport();
  const contracts = registryContracts(embeddedRegistry().client);
  const job = await startEmbeddedProcessors(transport, contracts, { PG_PORT: '0', PG_DECLINE_RATE: '0', DELIVERY_FAILURE_RATE: '0', COMMIT_INTERVAL_MS: '20' }, () => {});
  const producer = transport.producer();
  await producer.connect();
  const send = async <T extends TopicName>(topic: T, key: string, value: TopicValue<T>) => {
    const serde = contracts.produced(topic).valueSerde!;
    await producer.send([{ topic, key: Buffer.from(key), value: await serde.serialize(topic, value) }]);
  };
  const statuses = new Map<string, OrderStatus[]>();
  const sequences = new Map<string, number[]>();
  const reader = transport.consumer({ groupId: 'embedded-test-reader', topics: ['order-status-topic'] });
  await reader.connect();
  await reader.run(async (batch) => {
    for (const r of batch.records) {
      const change = await contracts.consumed('order-status-topic').valueSerde!.deserialize(batch.topic, r.value!) as OrderStatusChanged;
      statuses.set(change.orderId, [...(statuses.get(change.orderId) ?? []), change.to]);
      sequences.set(change.orderId, [...(sequences.get(change.orderId) ?? []), change.sequence ?? 0]);
    }
  });
  const reach = async (orderId: string, status: OrderStatus) => {
    for (let i = 0; i < 600 && !(statuses.get(orderId) ?? []).includes(status); i++) await new Promise((r) => setTimeout(r, 25));
    return statuses.get(orderId) ?? [];
  };
  try {
    const sellerId = randomUUID();
    const stocked = randomUUID();
    await send('stock-levels-topic', stocked, { productId: stocked, sellerId, available: 10, updatedAt: Date.now() });
    const order: OrderPlaced = { ...sampleValue('order-placed'), lines: [{ productId: stocked, quantity: 3, unitPrice: 2_500 }] };
    const missing: OrderPlaced = { ...sampleValue('order-placed'), lines: [{ productId: randomUUID(), quantity: 1, unitPrice: 100 }] };
    // The gateway publishes every user on signup; the order processor waits for buyers it does not know.
    for (const buyer of [order.customerId, missing.customerId]) {
      await send('users-topic', buyer, { ...sampleValue('users-topic'), id: buyer, role: 'BUYER' });
    }
    await send('order-placed', order.orderId, order);
    await send('order-placed', missing.orderId, missing);
    t.deepEqual(await reach(order.orderId, 'PENDING_PAYMENT'), ['CREATED', 'PENDING_PAYMENT']);
    await send('order-command-topic', order.orderId, {
      commandId: randomUUID(), orderId: order.orderId, customerId: order.customerId, type: 'PAY', paymentKey: 'pk-embedded', amount: 7_500, reason: null, issuedAt: Date.now(),
    });
    t.deepEqual(await reach(order.orderId, 'COMPLETED'), ['CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED']);
    t.deepEqual(await reach(missing.orderId, 'CANCELLED'), ['CREATED', 'CANCELLED']);
    t.deepEqual(sequences.get(order.orderId), [1, 2, 3, 4, 5, 6], 'status events numbered per order');
    t.deepEqual(sequences.get(missing.orderId), [1, 2]);
    t.is(job.pg!.stats().charges[order.orderId], 1, 'charged once through the simulator');
    const stores = job.processors.find((p) => p.applicationId === 'stock-processor')!.app.stores('stock-levels') as KeyValueStore<string, { available: number }>[];
    t.deepEqual(stores.map((s) => s.get(stocked)?.available).filter((a) => a !== undefined), [7], 'reserved 3 of 10, held by one task');
  } finally {
    await reader.disconnect();
    await producer.disconnect();
    await job.close();
    await transport.close();
  }
});
