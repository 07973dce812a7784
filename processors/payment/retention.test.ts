import test, { type ExecutionContext } from 'ava';
import { DeadLetterHeaders, TopologyTestDriver, type KeyValueStore } from '../engine/index.ts';
import type { OrderStatus, OrderStatusChanged, PaymentOutcome, PaymentRequestMessage } from '../../schemas/index.ts';
import { plainContracts } from '../common/index.ts';
import type { RetentionOptions } from '../common/retention.ts';
import { PAYMENT_EXPIRIES_STORE, PAYMENTS_STORE, PG_REQUESTS, PG_RESULTS, paymentTopology, type PaymentEntry, type PaymentKind } from './topology.ts';

const START = 1_700_000_000_000;
const RETENTION = 60_000;
const TICK = 1_000;
const APP = 'payment-test';

function driver(t: ExecutionContext, retention: RetentionOptions = { retentionMs: RETENTION, tickMs: TICK }): TopologyTestDriver {
  const d = new TopologyTestDriver(paymentTopology(plainContracts(), { pendingResendMs: 0, retention }),
    { applicationId: APP, wallClockStartMs: START, errors: { processing: 'dead-letter' } });
  t.teardown(() => d.close());
  // Wall-clock punctuators are armed by the first time step.
  d.advanceWallClockTime(1);
  return d;
}

const request = (orderId: string, kind: PaymentKind = 'CHARGE', requestedAt = START): PaymentRequestMessage => ({
  eventId: `evt-${orderId}-${kind}`, orderId, paymentKey: `pk-${orderId}`, amount: 4200, customerId: 'c1', requestedAt, kind,
});
const outcome = (orderId: string, kind: PaymentKind = 'CHARGE'): PaymentOutcome => ({ orderId, paymentKey: `pk-${orderId}`, amount: 4200, status: 'SUCCESS', kind });
const status = (orderId: string, to: OrderStatus, at = START): OrderStatusChanged => ({ eventId: `${orderId}-${to}`, orderId, from: null, to, reason: null, at, sequence: 5 });
const entry = (d: TopologyTestDriver, orderId: string, kind: PaymentKind = 'CHARGE') =>
  d.getStore<KeyValueStore<string, PaymentEntry>>(PAYMENTS_STORE).get(`${orderId}/${kind}`);
const tombstones = (d: TopologyTestDriver) => d.changelog(PAYMENTS_STORE).filter((e) => e.value === null).map((e) => e.key.toString());

/** Charged, delivery failed, refunded: both entries DONE, the order REFUNDED. */
function refundedOrder(d: TopologyTestDriver, orderId: string): void {
  d.pipe('payment-request-topic', orderId, request(orderId));
  d.pipe(PG_RESULTS, orderId, outcome(orderId));
  d.pipe('order-status-topic', orderId, status(orderId, 'REFUND_REQUESTED'));
  d.pipe('payment-request-topic', orderId, request(orderId, 'REFUND', START + 5));
  d.pipe(PG_RESULTS, orderId, outcome(orderId, 'REFUND'));
  d.pipe('order-status-topic', orderId, status(orderId, 'REFUNDED', START + 10));
}

test('the entries of an ended order are deleted the retention after it ended: store and changelog', (t) => {
  const d = driver(t);
  refundedOrder(d, 'o1');
  t.is(entry(d, 'o1')?.state, 'DONE');
  d.advanceWallClockTime(RETENTION - TICK);
  t.is(entry(d, 'o1', 'REFUND')?.state, 'DONE', 'kept until the retention has passed');
  d.advanceWallClockTime(2 * TICK);
  t.is(entry(d, 'o1'), undefined);
  t.is(entry(d, 'o1', 'REFUND'), undefined);
  t.deepEqual(tombstones(d), ['o1/CHARGE', 'o1/REFUND']);
  t.deepEqual(d.getStore<KeyValueStore<string, string>>(PAYMENT_EXPIRIES_STORE).all().map((e) => e.key), ['watermark']);
});

test('orders that have not ended keep their entries', (t) => {
  const d = driver(t);
  d.pipe('payment-request-topic', 'o1', request('o1'));
  d.pipe(PG_RESULTS, 'o1', outcome('o1'));
  d.pipe('order-status-topic', 'o1', status('o1', 'PAYMENT_COMPLETED'));
  d.pipe('order-status-topic', 'o1', status('o1', 'PREPARING'));
  d.pipe('payment-request-topic', 'o2', request('o2'));
  for (let i = 0; i < 5; i++) d.advanceWallClockTime(RETENTION);
  t.is(entry(d, 'o1')?.state, 'DONE');
  t.is(entry(d, 'o2')?.state, 'PENDING');
  t.deepEqual(tombstones(d), []);
});

test('a PENDING entry is never dropped, even of an ended order; it goes once it is settled', (t) => {
  const d = driver(t);
  d.pipe('payment-request-topic', 'o1', request('o1'));
  d.pipe('order-status-topic', 'o1', status('o1', 'CANCELLED'));
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(entry(d, 'o1')?.state, 'PENDING');
  d.pipe(PG_RESULTS, 'o1', outcome('o1'));
  d.advanceWallClockTime(RETENTION + TICK);
  t.is(entry(d, 'o1'), undefined);
});

test('a late duplicate request after expiry is dead-lettered, never sent to the gateway again', (t) => {
  const d = driver(t);
  refundedOrder(d, 'o1');
  d.readOutput(PG_REQUESTS);
  d.advanceWallClockTime(RETENTION + TICK);
  d.pipe('payment-request-topic', 'o1', request('o1'));
  d.pipe('payment-request-topic', 'o1', request('o1', 'REFUND', START + 5));
  t.deepEqual(d.readOutput(PG_REQUESTS), [], 'not charged or refunded again');
  const dead = d.readOutput(`${APP}-dlq`);
  t.deepEqual(dead.map((r) => r.headers[DeadLetterHeaders.error]?.toString()), ['ExpiredPaymentRequest', 'ExpiredPaymentRequest']);
  t.is(entry(d, 'o1'), undefined, 'nothing re-created');
  // A newer request is taken as usual.
  d.pipe('payment-request-topic', 'o2', request('o2', 'CHARGE', START + 6));
  t.is(d.readOutput(PG_REQUESTS).length, 1);
});

test('retention 0: no order-status input, entries kept for ever', (t) => {
  const topology = paymentTopology(plainContracts(), { retention: { retentionMs: 0 } });
  t.false(topology.subtopologies().some((s) => s.sourceTopics.includes('order-status-topic')));
  t.false(topology.describe().stores().includes(PAYMENT_EXPIRIES_STORE));
  const d = driver(t, { retentionMs: 0 });
  d.pipe('payment-request-topic', 'o1', request('o1'));
  d.pipe(PG_RESULTS, 'o1', outcome('o1'));
  d.advanceWallClockTime(100 * RETENTION);
  t.is(entry(d, 'o1')?.state, 'DONE');
});
