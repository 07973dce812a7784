import test from 'ava';
import { randomUUID } from 'node:crypto';
import { TopologyTestDriver, type KeyValueStore } from '../engine/index.ts';
import { plainContracts } from '../common/index.ts';
import type { OrderCommand, OrderPlaced, TopicName, TopicValue, User } from '../../schemas/index.ts';
import { sampleValue } from '../../schemas/index.ts';
import { orderTopology, ORDER_EXPIRIES_STORE, ORDERS_STORE, type OrderTopologyOptions } from './topology.ts';
import type { SagaEnvelope } from './envelope.ts';
import type { OrderState } from './saga.ts';
import { expiresAt, isExpired, lateDuplicate } from './retention.ts';

const START = 1_700_000_000_000;
const RETENTION = 60_000;
const TICK = 1_000;

/** The order topology under the test driver with envelopes going round, retention RETENTION (tick TICK). */
class Harness {
  readonly driver: TopologyTestDriver;

  constructor(options: OrderTopologyOptions = {}) {
    this.driver = new TopologyTestDriver(orderTopology(plainContracts(), {
      retryBackoffMs: 1_000, maxAttempts: 2, paymentDeadlineMs: 10 * RETENTION, retention: { retentionMs: RETENTION, tickMs: TICK }, ...options,
    }), { wallClockStartMs: START });
    this.driver.pipe('users-topic', buyer.id, buyer);
    // Wall-clock punctuators are armed by the first time step.
    this.driver.advanceWallClockTime(1);
  }

  send<T extends TopicName>(topic: T, value: TopicValue<T>): this {
    this.driver.pipe(topic, (value as { orderId: string }).orderId, value);
    return this.pump();
  }

  advance(ms: number): this {
    this.driver.advanceWallClockTime(ms);
    return this.pump();
  }

  orders(): KeyValueStore<string, OrderState> {
    return this.driver.getStore(ORDERS_STORE);
  }

  /** The orders changelog entries of one key, values decoded (null: tombstone). */
  changelog(orderId: string): (OrderState | null)[] {
    return this.driver.changelog(ORDERS_STORE).filter((e) => e.key.toString() === orderId)
      .map((e) => (e.value === null ? null : JSON.parse(e.value.toString()) as OrderState));
  }

  private pump(): this {
    for (;;) {
      const processing = this.driver.readOutput<string, SagaEnvelope>('order-processing-topic');
      const retries = this.driver.readOutput<string, SagaEnvelope>('order-retry-topic');
      if (processing.length === 0 && retries.length === 0) return this;
      for (const r of processing) this.driver.pipe('order-processing-topic', r.key, r.value, { timestamp: r.timestamp });
      for (const r of retries) this.driver.pipe('order-retry-topic', r.key, r.value, { timestamp: r.timestamp });
    }
  }
}

const buyer: User = { id: randomUUID(), email: 'minji@example.com', role: 'BUYER', name: 'Kim Minji', phone: null, updatedAt: START };
const product = randomUUID();

function order(overrides: Partial<OrderPlaced> = {}): OrderPlaced {
  return { ...sampleValue('order-placed'), customerId: buyer.id, fulfilment: 'WAREHOUSE', delivery: null, lines: [{ productId: product, quantity: 1, unitPrice: 1_000 }], ...overrides };
}
const pay = (o: OrderPlaced): OrderCommand =>
  ({ commandId: randomUUID(), orderId: o.orderId, customerId: o.customerId, type: 'PAY', paymentKey: `pk-${o.orderId}`, amount: 1_000, reason: null, issuedAt: START });

/** Placed, reserved, paid: a WAREHOUSE order is COMPLETED. */
function completed(h: Harness, o: OrderPlaced = order()): OrderPlaced {
  h.send('order-placed', o)
    .send('stock-response-topic', { orderId: o.orderId, productId: product, status: 'SUCCESS', message: 'reserved' })
    .send('order-command-topic', pay(o))
    .send('payment-success-topic', { orderId: o.orderId, paymentKey: `pk-${o.orderId}`, amount: 1_000, status: 'SUCCESS' });
  return o;
}

test('a terminal order is deleted after the retention: gone from the store, a tombstone on its changelog', (t) => {
  const h = new Harness();
  const o = completed(h);
  t.is(h.orders().get(o.orderId)?.status, 'COMPLETED');
  h.advance(RETENTION - TICK);
  t.truthy(h.orders().get(o.orderId), 'kept until the retention has passed');
  h.advance(2 * TICK);
  t.is(h.orders().get(o.orderId), undefined);
  const log = h.changelog(o.orderId);
  t.is(log.at(-1), null, 'the last changelog entry of the order is a tombstone');
  t.is(log.at(-2)?.status, 'COMPLETED');
  // The index is empty again but for the watermark.
  t.deepEqual(h.driver.getStore<KeyValueStore<string, string>>(ORDER_EXPIRIES_STORE).all().map((e) => e.key), ['watermark']);
});

test('a cancelled order expires too; orders not terminal are never deleted', (t) => {
  const h = new Harness();
  const cancelled = order();
  h.send('order-placed', cancelled).send('stock-response-topic', { orderId: cancelled.orderId, productId: product, status: 'FAILED', message: 'none left' });
  t.is(h.orders().get(cancelled.orderId)?.status, 'CANCELLED');
  const waiting = order();
  h.send('order-placed', waiting);
  const preparing = order({ fulfilment: 'DELIVERY', delivery: sampleValue('order-placed').delivery });
  h.send('order-placed', preparing)
    .send('stock-response-topic', { orderId: preparing.orderId, productId: product, status: 'SUCCESS', message: 'reserved' })
    .send('order-command-topic', pay(preparing))
    .send('payment-success-topic', { orderId: preparing.orderId, paymentKey: `pk-${preparing.orderId}`, amount: 1_000, status: 'SUCCESS' });
  for (let i = 0; i < 5; i++) h.advance(RETENTION);
  t.is(h.orders().get(cancelled.orderId), undefined);
  t.is(h.orders().get(waiting.orderId)?.status, 'CREATED');
  t.is(h.orders().get(preparing.orderId)?.status, 'PREPARING');
  t.false(h.changelog(waiting.orderId).includes(null));
  t.false(h.changelog(preparing.orderId).includes(null));
});

test('a change to a terminal order restarts its retention', (t) => {
  const h = new Harness();
  const o = order({ lines: [{ productId: product, quantity: 1, unitPrice: 1_000 }, { productId: randomUUID(), quantity: 1, unitPrice: 1_000 }] });
  h.send('order-placed', o).send('stock-response-topic', { orderId: o.orderId, productId: product, status: 'FAILED', message: 'none left' });
  h.advance(RETENTION / 2);
  // The second line's reservation comes after the cancellation: it is released, the order changes.
  h.send('stock-response-topic', { orderId: o.orderId, productId: o.lines[1]!.productId, status: 'SUCCESS', message: 'reserved' });
  h.driver.readOutput('stock-release-topic');
  h.advance(RETENTION / 2 + TICK);
  t.is(h.orders().get(o.orderId)?.status, 'CANCELLED', 'the first index entry finds the order changed since');
  h.advance(RETENTION / 2);
  t.is(h.orders().get(o.orderId), undefined);
});

test('retention 0 keeps terminal orders for ever and indexes nothing', (t) => {
  const h = new Harness({ retention: { retentionMs: 0 } });
  const o = completed(h);
  for (let i = 0; i < 3; i++) h.advance(100 * RETENTION);
  t.is(h.orders().get(o.orderId)?.status, 'COMPLETED');
  t.deepEqual(h.driver.getStore<KeyValueStore<string, string>>(ORDER_EXPIRIES_STORE).all(), []);
  // And no late-duplicate guard: a second identical order-placed is the usual redelivery no-op.
  h.send('order-placed', o);
  t.deepEqual(h.driver.readOutput('order-dead-letter-topic'), []);
});

test('a late duplicate after expiry re-creates nothing and repeats no effect: dead letters only', (t) => {
  const h = new Harness();
  const o = completed(h);
  h.advance(RETENTION + TICK);
  t.is(h.orders().get(o.orderId), undefined);
  for (const topic of ['order-created', 'order-status-topic', 'payment-request-topic', 'order-completed-topic', 'order-dead-letter-topic'] as const) h.driver.readOutput(topic);

  h.send('order-placed', o);
  h.send('payment-success-topic', { orderId: o.orderId, paymentKey: `pk-${o.orderId}`, amount: 1_000, status: 'SUCCESS' });
  h.send('order-command-topic', pay(o));
  for (let i = 0; i < 4; i++) h.advance(10_000);

  t.is(h.orders().get(o.orderId), undefined, 'not re-created');
  for (const topic of ['order-created', 'order-status-topic', 'payment-request-topic', 'order-completed-topic', 'stock-release-topic'] as const) {
    t.deepEqual(h.driver.readOutput(topic), [], `nothing on ${topic}`);
  }
  const dead = h.driver.readOutput<string, SagaEnvelope>('order-dead-letter-topic').map((r) => [r.value.event.topic, r.value.errorType]);
  t.deepEqual(dead, [['order-placed', 'TransitionRejected'], ['payment-success-topic', 'TransitionRejected'], ['order-command-topic', 'NotYetApplicable']]);

  // A new order placed after the expired one is taken as usual.
  const next = completed(h, order({ placedAt: o.placedAt + 1 }));
  t.is(h.orders().get(next.orderId)?.status, 'COMPLETED');
});

test('each punctuation deletes at most maxPerPunctuation orders; the rest go in the next ones', (t) => {
  const h = new Harness({ retention: { retentionMs: RETENTION, tickMs: TICK, maxPerPunctuation: 2 } });
  const orders = Array.from({ length: 5 }, () => completed(h));
  const left = () => orders.filter((o) => h.orders().get(o.orderId) !== undefined).length;
  h.advance(RETENTION + TICK);
  t.is(left(), 3);
  h.advance(TICK);
  t.is(left(), 1);
  h.advance(TICK);
  t.is(left(), 0);
  t.is(h.driver.changelog(ORDERS_STORE).filter((e) => e.value === null).length, 5, 'one tombstone per order');
});

test('the pure rules: expiry from the last change of a terminal order; the late-duplicate guard', (t) => {
  const base = { status: 'COMPLETED', updatedAt: 1_000, placedAt: 500, orderId: 'o' } as OrderState;
  t.is(expiresAt(base, 10), 1_010);
  t.is(expiresAt({ ...base, status: 'REFUND_REQUESTED' }, 10), undefined);
  t.false(isExpired(base, 10, 1_009));
  t.true(isExpired(base, 10, 1_010));
  const placed = { topic: 'order-placed', value: { ...sampleValue('order-placed'), placedAt: 500 } } as const;
  t.is(lateDuplicate(undefined, placed, 499), undefined);
  t.is(lateDuplicate(undefined, placed, 500)?.name, 'TransitionRejected');
  t.is(lateDuplicate(base, placed, 500), undefined, 'a known order: the saga decides (redelivery)');
  t.is(lateDuplicate(undefined, placed, -Infinity), undefined);
});

