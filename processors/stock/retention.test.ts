import test, { type ExecutionContext } from 'ava';
import { TopologyTestDriver, type KeyValueStore } from '../engine/index.ts';
import { plainContracts } from '../common/index.ts';
import type { RetentionOptions } from '../common/retention.ts';
import type { OrderStatus, OrderStatusChanged, StockResponseMessage } from '../../schemas/index.ts';
import {
  stockTopology, StockMessages, STOCK_LEVELS_STORE, STOCK_ORDERS_STORE, STOCK_RESERVATIONS_STORE,
  type StoredLevel, type StoredReservation, type TrackedOrder,
} from './topology.ts';

const START = 1_700_000_000_000;
const RETENTION = 60_000;
const TICK = 1_000;
const A = 'product-a';
const B = 'product-b';

function driver(t: ExecutionContext, retention: RetentionOptions = { retentionMs: RETENTION, tickMs: TICK }): TopologyTestDriver {
  const d = new TopologyTestDriver(stockTopology(plainContracts(), { retention }), { wallClockStartMs: START });
  t.teardown(() => d.close());
  // Wall-clock punctuators are armed by the first time step.
  d.advanceWallClockTime(1);
  for (const productId of [A, B]) d.pipe('stock-levels-topic', productId, { productId, sellerId: 's1', available: 10, updatedAt: 1 });
  return d;
}

const order = (d: TopologyTestDriver, orderId: string, lines: readonly (readonly [string, number])[], timestamp = START) =>
  d.pipe('order-created', orderId, { orderId, products: lines.map(([productId, quantity]) => ({ productId, quantity })) }, { timestamp });
const status = (d: TopologyTestDriver, orderId: string, to: OrderStatus, at = START + 100) =>
  d.pipe('order-status-topic', orderId, { eventId: `${orderId}-${to}`, orderId, from: null, to, reason: null, at, sequence: 4 } satisfies OrderStatusChanged);
const release = (d: TopologyTestDriver, orderId: string, productId: string) =>
  d.pipe('stock-release-topic', orderId, { orderId, productId, quantity: 0, reason: 'CANCELLED' });
const reservation = (d: TopologyTestDriver, productId: string, orderId: string) =>
  d.getStore<KeyValueStore<string, StoredReservation>>(STOCK_RESERVATIONS_STORE).get(`${productId}/${orderId}`);
const available = (d: TopologyTestDriver, productId: string) => d.getStore<KeyValueStore<string, StoredLevel>>(STOCK_LEVELS_STORE).get(productId)?.available;
const tracked = (d: TopologyTestDriver, orderId: string) => d.getStore<KeyValueStore<string, TrackedOrder>>(STOCK_ORDERS_STORE).get(orderId);
const tombstones = (d: TopologyTestDriver, store: string) => d.changelog(store).filter((e) => e.value === null).map((e) => e.key.toString()).sort();

test('the reservations of a completed order are deleted the retention after it ended: store and changelog', (t) => {
  const d = driver(t);
  order(d, 'o1', [[A, 2], [B, 3]]);
  status(d, 'o1', 'PENDING_PAYMENT');
  status(d, 'o1', 'COMPLETED', START + 100);
  t.deepEqual(reservation(d, A, 'o1'), { quantity: 2, state: 'RESERVED' });
  d.advanceWallClockTime(START + 100 + RETENTION - d.wallClockTime() - TICK);
  t.truthy(reservation(d, B, 'o1'), 'kept until the retention has passed');
  d.advanceWallClockTime(2 * TICK);
  t.is(reservation(d, A, 'o1'), undefined);
  t.is(reservation(d, B, 'o1'), undefined);
  t.deepEqual(tombstones(d, STOCK_RESERVATIONS_STORE), [`${A}/o1`, `${B}/o1`]);
  t.is(tracked(d, 'o1'), undefined, 'the tracker forgot the order too');
  t.deepEqual(tombstones(d, STOCK_ORDERS_STORE), ['o1']);
  t.is(available(d, A), 8, 'levels are not per order: the completed order keeps its units');
  t.is(available(d, B), 7);
});

test('reservations of orders that have not ended are never deleted', (t) => {
  const d = driver(t);
  order(d, 'o1', [[A, 1]]);
  status(d, 'o1', 'PREPARING');
  status(d, 'o1', 'REFUND_REQUESTED');
  for (let i = 0; i < 5; i++) d.advanceWallClockTime(RETENTION);
  t.deepEqual(reservation(d, A, 'o1'), { quantity: 1, state: 'RESERVED' });
  t.deepEqual(tombstones(d, STOCK_RESERVATIONS_STORE), []);
});

test('a reserved line of a cancelled order waits for its release, then goes; the units come back', (t) => {
  const d = driver(t);
  order(d, 'o1', [[A, 4]]);
  status(d, 'o1', 'CANCELLED', START);
  d.advanceWallClockTime(RETENTION + TICK);
  t.deepEqual(reservation(d, A, 'o1'), { quantity: 4, state: 'RESERVED' }, 'a delete now would lose the units the release gives back');
  release(d, 'o1', A);
  t.is(available(d, A), 10);
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(reservation(d, A, 'o1'), undefined);
});

test('a late duplicate line after expiry reserves nothing and is answered FAILED', (t) => {
  const d = driver(t);
  order(d, 'o1', [[A, 2]], START);
  status(d, 'o1', 'COMPLETED', START);
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(reservation(d, A, 'o1'), undefined);
  d.readKeyValues('stock-response-topic');
  order(d, 'o1', [[A, 2]], START);
  t.deepEqual(d.readKeyValues<string, StockResponseMessage>('stock-response-topic'),
    [['o1', { orderId: 'o1', productId: A, status: 'FAILED', message: StockMessages.expired(A) }]]);
  t.is(available(d, A), 8, 'not reserved again');
  t.is(reservation(d, A, 'o1'), undefined);
  t.is(tracked(d, 'o1'), undefined, 'the tracker does not remember it either');
  // A newer order is reserved as usual.
  order(d, 'o2', [[A, 1]], START + 1);
  t.deepEqual(reservation(d, A, 'o2'), { quantity: 1, state: 'RESERVED' });
});

test('an end that overtakes its order-created is kept and applied when the order comes', (t) => {
  const d = driver(t);
  status(d, 'o1', 'CANCELLED', START);
  t.like(tracked(d, 'o1'), { products: null, ended: { status: 'CANCELLED' } });
  order(d, 'o1', [[B, 1]]);
  release(d, 'o1', B);
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(reservation(d, B, 'o1'), undefined);
  t.is(tracked(d, 'o1'), undefined);
  t.is(available(d, B), 10);
});

test('rejected lines go with their order; a repeated end changes nothing', (t) => {
  const d = driver(t);
  order(d, 'o1', [[A, 20]]);
  t.deepEqual(reservation(d, A, 'o1'), { quantity: 20, state: 'REJECTED' });
  status(d, 'o1', 'CANCELLED', START);
  status(d, 'o1', 'CANCELLED', START + 5_000);
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(reservation(d, A, 'o1'), undefined);
  t.deepEqual(tombstones(d, STOCK_RESERVATIONS_STORE), [`${A}/o1`]);
});

test('retention 0: no tracker, no order-status input, reservations kept for ever', (t) => {
  const topology = stockTopology(plainContracts(), { retention: { retentionMs: 0 } });
  t.false(topology.subtopologies().some((s) => s.sourceTopics.includes('order-status-topic')));
  t.false(topology.describe().stores().includes(STOCK_ORDERS_STORE));
  const d = driver(t, { retentionMs: 0 });
  order(d, 'o1', [[A, 1]]);
  d.advanceWallClockTime(100 * RETENTION);
  t.truthy(reservation(d, A, 'o1'));
});
