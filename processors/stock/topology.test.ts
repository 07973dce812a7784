import test, { type ExecutionContext } from 'ava';
import { ProcessingFailure, TopologyTestDriver, type KeyValueStore, type TestDriverOptions } from '../engine/index.ts';
import { plainContracts } from '../common/index.ts';
import type { StockResponseMessage } from '../../schemas/index.ts';
import {
  stockTopology, InvalidStockInput, StockMessages, STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE,
  type StoredLevel, type StoredReservation,
} from './topology.ts';

const A = 'product-a';
const B = 'product-b';
const SELLER = 'seller-1';

function driver(t: ExecutionContext, options: TestDriverOptions = {}): TopologyTestDriver {
  const d = new TopologyTestDriver(stockTopology(plainContracts()), options);
  t.teardown(() => d.close());
  return d;
}

function setLevel(d: TopologyTestDriver, productId: string, available: number, updatedAt = 1): void {
  d.pipe('stock-levels-topic', productId, { productId, sellerId: SELLER, available, updatedAt });
}

function order(d: TopologyTestDriver, orderId: string, lines: readonly (readonly [string, number])[], timestamp = 100): void {
  d.pipe('order-created', orderId, { orderId, products: lines.map(([productId, quantity]) => ({ productId, quantity })) }, { timestamp });
}

function release(d: TopologyTestDriver, orderId: string, productId: string, quantity: number, timestamp = 200): void {
  d.pipe('stock-release-topic', orderId, { orderId, productId, quantity, reason: 'CANCELLED_BY_BUYER' }, { timestamp });
}

const responses = (d: TopologyTestDriver) => d.readKeyValues<string, StockResponseMessage>('stock-response-topic');
const levelOf = (d: TopologyTestDriver, productId: string) => d.getStore<KeyValueStore<string, StoredLevel>>(STOCK_LEVELS_STORE).get(productId);
const available = (d: TopologyTestDriver, productId: string) => levelOf(d, productId)?.available;
const reservationOf = (d: TopologyTestDriver, productId: string, orderId: string) =>
  d.getStore<KeyValueStore<string, StoredReservation>>(STOCK_RESERVATIONS_STORE).get(`${productId}/${orderId}`);

const success = (orderId: string, productId: string, quantity: number): [string, StockResponseMessage] =>
  [orderId, { orderId, productId, status: 'SUCCESS', message: StockMessages.reserved(productId, quantity) }];
const failed = (orderId: string, productId: string, message: string): [string, StockResponseMessage] =>
  [orderId, { orderId, productId, status: 'FAILED', message }];

test('a line within the level is reserved: SUCCESS, level decremented, reservation RESERVED', (t) => {
  const d = driver(t);
  setLevel(d, A, 10);
  order(d, 'o1', [[A, 3]], 500);
  t.deepEqual(responses(d), [success('o1', A, 3)]);
  t.deepEqual(levelOf(d, A), { productId: A, sellerId: SELLER, available: 7, updatedAt: 500 });
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 3, state: 'RESERVED' });
});

test('a line above the level fails naming available and requested; the level is untouched', (t) => {
  const d = driver(t);
  setLevel(d, A, 2);
  order(d, 'o1', [[A, 3]]);
  t.deepEqual(responses(d), [failed('o1', A, StockMessages.insufficient(A, 2, 3))]);
  t.regex(StockMessages.insufficient(A, 2, 3), /available 2.*requested 3/);
  t.is(available(d, A), 2);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 3, state: 'REJECTED' });
});

test('a line of an unknown product fails with "unknown product <id>"', (t) => {
  const d = driver(t);
  order(d, 'o1', [[A, 1]]);
  t.deepEqual(responses(d), [failed('o1', A, `unknown product ${A}`)]);
  t.is(levelOf(d, A), undefined);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 1, state: 'REJECTED' });
});

test('interleaved orders of one product never take the level below zero', (t) => {
  const d = driver(t);
  setLevel(d, A, 10);
  order(d, 'o1', [[A, 4]]);
  order(d, 'o2', [[A, 4]]);
  order(d, 'o3', [[A, 4]]);
  t.deepEqual(responses(d), [success('o1', A, 4), success('o2', A, 4), failed('o3', A, StockMessages.insufficient(A, 2, 4))]);
  t.is(available(d, A), 2);
  // Every level the changelog ever held is non-negative.
  const history = d.changelog(STOCK_LEVELS_STORE).map((e) => (JSON.parse(e.value!.toString()) as StoredLevel).available);
  t.deepEqual(history, [10, 6, 2]);
});

test('a multi-line order gets one response per line, keyed by orderId', (t) => {
  const d = driver(t);
  setLevel(d, A, 5);
  setLevel(d, B, 1);
  order(d, 'o1', [[A, 2], [B, 2]]);
  t.deepEqual(responses(d), [success('o1', A, 2), failed('o1', B, StockMessages.insufficient(B, 1, 2))]);
  t.is(available(d, A), 3);
  t.is(available(d, B), 1);
});

test('a repeated order-created changes nothing and answers each line the same again', (t) => {
  const d = driver(t);
  setLevel(d, A, 5);
  setLevel(d, B, 1);
  order(d, 'o1', [[A, 2], [B, 2]]);
  const first = responses(d);
  const changes = { levels: d.changelog(STOCK_LEVELS_STORE).length, reservations: d.changelog(STOCK_RESERVATIONS_STORE).length };
  // The seller raises B meanwhile: the repeat must still not reserve it.
  setLevel(d, B, 10);
  order(d, 'o1', [[A, 2], [B, 2]]);
  const again = responses(d);
  t.deepEqual(again.map(([k, v]) => [k, v.productId, v.status]), first.map(([k, v]) => [k, v.productId, v.status]));
  t.deepEqual(again[0], first[0]);
  t.is(available(d, A), 3);
  t.is(available(d, B), 10);
  t.deepEqual(reservationOf(d, B, 'o1'), { quantity: 2, state: 'REJECTED' });
  t.is(d.changelog(STOCK_LEVELS_STORE).length, changes.levels + 1, 'only the seller update was written');
  t.is(d.changelog(STOCK_RESERVATIONS_STORE).length, changes.reservations);
});

test('a release gives back exactly the reserved quantity, once, however often it arrives', (t) => {
  const d = driver(t);
  setLevel(d, A, 10);
  order(d, 'o1', [[A, 4]]);
  responses(d);
  // The message's quantity is not trusted: the reservation says what was taken.
  release(d, 'o1', A, 99, 300);
  t.is(available(d, A), 10);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 4, state: 'RELEASED' });
  t.is(levelOf(d, A)?.updatedAt, 300);
  release(d, 'o1', A, 4);
  t.is(available(d, A), 10);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 4, state: 'RELEASED' });
  t.deepEqual(responses(d), [], 'a release is not answered');
});

test('a repeated line after its release is answered as the first time and reserves nothing', (t) => {
  const d = driver(t);
  setLevel(d, A, 10);
  order(d, 'o1', [[A, 4]]);
  release(d, 'o1', A, 4);
  const first = responses(d);
  order(d, 'o1', [[A, 4]]);
  t.deepEqual(responses(d), first);
  t.is(available(d, A), 10);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 4, state: 'RELEASED' });
});

test('a release of a rejected line is a no-op', (t) => {
  const d = driver(t);
  setLevel(d, A, 1);
  order(d, 'o1', [[A, 3]]);
  responses(d);
  const written = d.changelog(STOCK_LEVELS_STORE).length + d.changelog(STOCK_RESERVATIONS_STORE).length;
  release(d, 'o1', A, 3);
  t.is(available(d, A), 1);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 3, state: 'REJECTED' });
  t.is(d.changelog(STOCK_LEVELS_STORE).length + d.changelog(STOCK_RESERVATIONS_STORE).length, written);
});

test('a release that overtakes its request makes the request fail, and only that order', (t) => {
  const d = driver(t);
  setLevel(d, A, 10);
  release(d, 'o1', A, 4);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 0, state: 'RELEASED' });
  order(d, 'o1', [[A, 4]]);
  order(d, 'o2', [[A, 4]]);
  t.deepEqual(responses(d), [failed('o1', A, 'order already released'), success('o2', A, 4)]);
  t.is(available(d, A), 6);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 0, state: 'RELEASED' });
  // Repeats agree with the first answers.
  order(d, 'o1', [[A, 4]]);
  release(d, 'o1', A, 4);
  t.deepEqual(responses(d), [failed('o1', A, 'order already released')]);
  t.is(available(d, A), 6);
});

test('a seller update sets the level for new orders; existing reservations are kept', (t) => {
  const d = driver(t);
  setLevel(d, A, 5, 1);
  order(d, 'o1', [[A, 5]]);
  order(d, 'o2', [[A, 1]]);
  setLevel(d, A, 3, 1000);
  t.deepEqual(levelOf(d, A), { productId: A, sellerId: SELLER, available: 3, updatedAt: 1000 });
  order(d, 'o3', [[A, 3]]);
  t.deepEqual(responses(d), [success('o1', A, 5), failed('o2', A, StockMessages.insufficient(A, 0, 1)), success('o3', A, 3)]);
  t.is(available(d, A), 0);
  t.deepEqual(reservationOf(d, A, 'o1'), { quantity: 5, state: 'RESERVED' });
});

test('a tombstone on stock-levels-topic removes the product', (t) => {
  const d = driver(t);
  setLevel(d, A, 5);
  d.pipe('stock-levels-topic', A, null);
  t.is(levelOf(d, A), undefined);
  order(d, 'o1', [[A, 1]]);
  t.deepEqual(responses(d), [failed('o1', A, `unknown product ${A}`)]);
});

test('the changelogs carry the documented layouts: string keys, JSON values', (t) => {
  const d = driver(t);
  setLevel(d, A, 5, 7);
  order(d, 'o1', [[A, 2]], 100);
  const levels = d.changelog(STOCK_LEVELS_STORE).map((e) => [e.key.toString(), JSON.parse(e.value!.toString()) as unknown]);
  t.deepEqual(levels, [
    [A, { productId: A, sellerId: SELLER, available: 5, updatedAt: 7 }],
    [A, { productId: A, sellerId: SELLER, available: 3, updatedAt: 100 }],
  ]);
  const reservations = d.changelog(STOCK_RESERVATIONS_STORE).map((e) => [e.key.toString(), JSON.parse(e.value!.toString()) as unknown]);
  t.deepEqual(reservations, [[`${A}/o1`, { quantity: 2, state: 'RESERVED' }]]);
});

test('invalid input throws InvalidStockInput and emits nothing', (t) => {
  const d = driver(t);
  setLevel(d, A, 5);
  const rejected = (f: () => void) => {
    const e = t.throws(f, { instanceOf: ProcessingFailure });
    t.true(e?.cause instanceof InvalidStockInput, String(e?.cause));
  };
  rejected(() => setLevel(d, A, -1));
  rejected(() => order(d, 'o1', [[A, 0]]));
  rejected(() => order(d, 'o2', [[A, -2]]));
  t.is(available(d, A), 5);
  t.deepEqual(responses(d), []);
});

test('invalid input goes to dead letters whole: no line of the request is reserved or answered', (t) => {
  const d = driver(t, { errors: { processing: 'dead-letter' } });
  setLevel(d, A, 5);
  setLevel(d, B, 5);
  order(d, 'o1', [[A, 1], [B, 0]]);
  order(d, 'o2', [[A, 1], [A, 1]]);
  order(d, 'o3', []);
  setLevel(d, B, -3);
  d.pipe('stock-release-topic', 'o5', { orderId: 'o5', productId: '', quantity: 1, reason: 'CANCELLED_BY_BUYER' });
  d.pipe('stock-release-topic', 'o5', null);
  const dead = d.readOutput('test-driver-dlq');
  t.deepEqual(dead.map((r) => r.headers['dlq.error']?.toString()), Array(6).fill('InvalidStockInput'));
  t.deepEqual(dead.map((r) => r.headers['dlq.source.topic']?.toString()),
    ['order-created', 'order-created', 'order-created', 'stock-levels-topic', 'stock-release-topic', 'stock-release-topic']);
  t.regex(dead[0]!.headers['dlq.reason']!.toString(), /quantity must be a positive integer, not 0.*order o1.*product product-b/);
  t.deepEqual(responses(d), []);
  t.is(available(d, A), 5);
  t.is(available(d, B), 5);
  t.deepEqual(d.getStore<KeyValueStore<string, StoredReservation>>(STOCK_RESERVATIONS_STORE).all(), []);
  // The stream goes on after dead letters.
  order(d, 'o4', [[B, 5]]);
  t.deepEqual(responses(d), [success('o4', B, 5)]);
});
