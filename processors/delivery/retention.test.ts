import test, { type ExecutionContext } from 'ava';
import { TopologyTestDriver, type KeyValueStore } from '../engine/index.ts';
import { plainContracts } from '../common/index.ts';
import type { DeliveryRequestMessage, DeliveryStartMessage, OrderStatus, OrderStatusChanged } from '../../schemas/index.ts';
import { DELIVERIES_STORE, DELIVERY_EXPIRIES_STORE, deliveryTopology, type DeliveryStore } from './topology.ts';
import type { RetentionOptions } from '../common/retention.ts';

const START = 1_700_000_000_000;
const RETENTION = 60_000;
const TICK = 1_000;

function driver(t: ExecutionContext, retention: RetentionOptions = { retentionMs: RETENTION, tickMs: TICK }): TopologyTestDriver {
  const d = new TopologyTestDriver(deliveryTopology(plainContracts(), { failureRate: 0, seed: 's' }, retention), { wallClockStartMs: START });
  t.teardown(() => d.close());
  // Wall-clock punctuators are armed by the first time step.
  d.advanceWallClockTime(1);
  return d;
}

const request = (orderId: string): DeliveryRequestMessage => ({
  orderId, customerId: 'customer-1', address: '1 Main Street', addressDetail: 'Apt 2', zipcode: '12345', phone: '555-0100', name: 'Ada Buyer', deliveryMemo: '',
});
const status = (orderId: string, to: OrderStatus, at: number): OrderStatusChanged =>
  ({ eventId: `${orderId}-${to}`, orderId, from: null, to, reason: null, at, sequence: 5 });
const stored = (d: TopologyTestDriver, orderId: string) => d.getStore<DeliveryStore>(DELIVERIES_STORE).get(orderId);
const tombstones = (d: TopologyTestDriver, orderId: string) => d.changelog(DELIVERIES_STORE).filter((e) => e.key.toString() === orderId && e.value === null).length;

test('the answer of a completed order is deleted the retention after the order ended: store and changelog', (t) => {
  const d = driver(t);
  d.pipe('delivery-request-topic', 'o1', request('o1'), { timestamp: START });
  d.pipe('order-status-topic', 'o1', status('o1', 'SHIPMENT_STARTED', START + 10), { timestamp: START });
  d.pipe('order-status-topic', 'o1', status('o1', 'COMPLETED', START + 10), { timestamp: START });
  d.advanceWallClockTime(RETENTION - TICK);
  t.truthy(stored(d, 'o1'), 'kept until the retention has passed');
  d.advanceWallClockTime(2 * TICK);
  t.is(stored(d, 'o1'), undefined);
  t.is(tombstones(d, 'o1'), 1);
  t.is(d.changelog(DELIVERIES_STORE).at(-1)?.value, null, 'the tombstone is the last changelog entry');
});

test('orders that have not ended keep their answer; a non-terminal status indexes nothing', (t) => {
  const d = driver(t);
  d.pipe('delivery-request-topic', 'o1', request('o1'));
  d.pipe('order-status-topic', 'o1', status('o1', 'SHIPMENT_STARTED', START));
  d.pipe('order-status-topic', 'o1', status('o1', 'REFUND_REQUESTED', START));
  for (let i = 0; i < 5; i++) d.advanceWallClockTime(RETENTION);
  t.truthy(stored(d, 'o1'));
  t.deepEqual(d.getStore<KeyValueStore<string, string>>(DELIVERY_EXPIRIES_STORE).all(), []);
});

test('a late duplicate request after expiry gets the same answer and stores nothing', (t) => {
  const d = driver(t);
  d.pipe('delivery-request-topic', 'o1', request('o1'), { timestamp: START });
  const [first] = d.readKeyValues<string, DeliveryStartMessage>('delivery-start-topic');
  d.pipe('order-status-topic', 'o1', status('o1', 'REFUNDED', START + 5), { timestamp: START + 5 });
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(stored(d, 'o1'), undefined);
  d.pipe('delivery-request-topic', 'o1', request('o1'), { timestamp: START });
  t.deepEqual(d.readKeyValues('delivery-start-topic'), [first!]);
  t.is(stored(d, 'o1'), undefined, 'not re-created: nothing would ever expire it');
  // A new order's request is stored as usual.
  d.pipe('delivery-request-topic', 'o2', request('o2'), { timestamp: START + 10 });
  t.truthy(stored(d, 'o2'));
});

test('retention 0: no order-status input, answers kept for ever', (t) => {
  const topology = deliveryTopology(plainContracts(), { failureRate: 0, seed: 's' }, { retentionMs: 0 });
  t.false(topology.subtopologies().some((s) => s.sourceTopics.includes('order-status-topic')));
  const d = driver(t, { retentionMs: 0 });
  d.pipe('delivery-request-topic', 'o1', request('o1'));
  d.advanceWallClockTime(100 * RETENTION);
  t.truthy(stored(d, 'o1'));
});
