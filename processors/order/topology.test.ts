import test from 'ava';
import { randomUUID } from 'node:crypto';
import { TopologyTestDriver, type KeyValueStore } from '../engine/index.ts';
import { plainContracts } from '../common/index.ts';
import type {
  DeliveryRequestMessage, DeliveryStartMessage, OrderCommand, OrderPlaced, OrderStatus, OrderStatusChanged, PaymentRefundMessage, PaymentSuccessMessage,
  StockResponseMessage, TopicName, User,
} from '../../schemas/index.ts';
import { sampleValue } from '../../schemas/index.ts';
import { orderTopology, DEADLINES_STORE, ORDERS_STORE, USERS_STORE, type OrderTopologyOptions } from './topology.ts';
import type { OrderState } from './saga.ts';
import type { SagaEnvelope } from './envelope.ts';
import { canTransitionTo, ORDER_STATUSES } from './status.ts';

const START = 1_700_000_000_000;

/**
 * The order topology under the test driver, with the broker's part played here: envelopes go
 * round. The test buyer (`customerId`) is in the users table from the start.
 */
class Harness {
  readonly driver: TopologyTestDriver;
  private readonly seen = new Map<string, unknown[]>();

  constructor(options: OrderTopologyOptions = {}) {
    this.driver = new TopologyTestDriver(orderTopology(plainContracts(), { retryBackoffMs: 1_000, maxAttempts: 3, paymentDeadlineMs: 60_000, ...options }), { wallClockStartMs: START });
    this.user(user());
  }

  /** Publishes a user to users-topic (key id), as the gateway does on signup and change. */
  user(u: User): this {
    this.driver.pipe('users-topic', u.id, u, { timestamp: this.driver.wallClockTime() });
    return this;
  }

  send<T extends TopicName>(topic: T, value: { orderId: string }, timestamp = this.driver.wallClockTime()): this {
    this.driver.pipe(topic, value.orderId, value, { timestamp });
    return this.pump();
  }

  advance(ms: number): this {
    this.driver.advanceWallClockTime(ms);
    return this.pump();
  }

  /** Everything written to a topic so far (not forgotten between reads). */
  all<V>(topic: TopicName): V[] {
    this.collect(topic);
    return (this.seen.get(topic) ?? []) as V[];
  }

  statuses(orderId: string): (OrderStatus | null)[] {
    const changes = this.all<OrderStatusChanged>('order-status-topic').filter((c) => c.orderId === orderId);
    return changes.length === 0 ? [] : [changes[0]!.from ?? null, ...changes.map((c) => c.to)];
  }

  /** The `sequence` of each status event of the order, in the order written. */
  sequences(orderId: string): number[] {
    return this.all<OrderStatusChanged>('order-status-topic').filter((c) => c.orderId === orderId).map((c) => c.sequence ?? 0);
  }

  state(orderId: string): OrderState | undefined {
    return this.driver.getStore<KeyValueStore<string, OrderState>>(ORDERS_STORE).get(orderId);
  }

  private pump(): this {
    for (;;) {
      const processing = this.driver.readOutput<string, SagaEnvelope>('order-processing-topic');
      const retries = this.driver.readOutput<string, SagaEnvelope>('order-retry-topic');
      if (processing.length === 0 && retries.length === 0) return this;
      this.remember('order-processing-topic', processing.map((r) => r.value));
      this.remember('order-retry-topic', retries.map((r) => r.value));
      for (const r of processing) this.driver.pipe('order-processing-topic', r.key, r.value, { timestamp: r.timestamp });
      for (const r of retries) this.driver.pipe('order-retry-topic', r.key, r.value, { timestamp: r.timestamp });
    }
  }

  private collect(topic: TopicName): void {
    if (topic === 'order-processing-topic' || topic === 'order-retry-topic') return;
    this.remember(topic, this.driver.readOutput(topic).map((r) => r.value));
  }

  private remember(topic: string, values: unknown[]): void {
    this.seen.set(topic, [...(this.seen.get(topic) ?? []), ...values]);
  }
}

const customerId = randomUUID();
const user = (overrides: Partial<User> = {}): User =>
  ({ id: customerId, email: 'minji@example.com', role: 'BUYER', name: 'Kim Minji', phone: '010-1234-5678', updatedAt: START, ...overrides });
const productA = randomUUID();
const productB = randomUUID();

function order(fulfilment: 'DELIVERY' | 'WAREHOUSE' = 'DELIVERY', overrides: Partial<OrderPlaced> = {}): OrderPlaced {
  return {
    ...sampleValue('order-placed'),
    customerId,
    fulfilment,
    lines: [
      { productId: productA, quantity: 2, unitPrice: 1_000 },
      { productId: productB, quantity: 1, unitPrice: 5_000 },
      { productId: productA, quantity: 1, unitPrice: 1_000 },
    ],
    ...(fulfilment === 'WAREHOUSE' ? { delivery: null } : {}),
    ...overrides,
  };
}

const TOTAL = 3 * 1_000 + 5_000;

const stock = (o: OrderPlaced, productId: string, status: 'SUCCESS' | 'FAILED'): StockResponseMessage =>
  ({ orderId: o.orderId, productId, status, message: status === 'SUCCESS' ? 'reserved' : `only 0 of ${productId} left` });
const pay = (o: OrderPlaced, overrides: Partial<OrderCommand> = {}): OrderCommand =>
  ({ commandId: randomUUID(), orderId: o.orderId, customerId: o.customerId, type: 'PAY', paymentKey: `pk-${o.orderId}`, amount: TOTAL, reason: null, issuedAt: START, ...overrides });
const cancelCommand = (o: OrderPlaced): OrderCommand =>
  ({ commandId: randomUUID(), orderId: o.orderId, customerId: o.customerId, type: 'CANCEL', paymentKey: null, amount: null, reason: 'changed my mind', issuedAt: START });
const paid = (o: OrderPlaced, status: 'SUCCESS' | 'FAILED'): PaymentSuccessMessage =>
  ({ orderId: o.orderId, paymentKey: `pk-${o.orderId}`, amount: TOTAL, status });
const refunded = (o: OrderPlaced, status: 'SUCCESS' | 'FAILED'): PaymentRefundMessage =>
  ({ orderId: o.orderId, paymentKey: `pk-${o.orderId}`, amount: TOTAL, status, reason: status === 'FAILED' ? 'gateway unavailable' : null });
const delivery = (o: OrderPlaced, status: 'STARTED' | 'FAILED'): DeliveryStartMessage =>
  ({ orderId: o.orderId, deliveryId: `d-${o.orderId}`, status });

/** Placed, both lines reserved: PENDING_PAYMENT. */
function awaitingPayment(h: Harness, o: OrderPlaced): Harness {
  return h.send('order-placed', o).send('stock-response-topic', stock(o, productA, 'SUCCESS')).send('stock-response-topic', stock(o, productB, 'SUCCESS'));
}

test('a delivered order walks CREATED → PENDING_PAYMENT → PAYMENT_COMPLETED → PREPARING → SHIPMENT_STARTED → COMPLETED', (t) => {
  const h = new Harness();
  const o = order();
  h.send('order-placed', o);
  t.deepEqual(h.all('order-created'), [{ orderId: o.orderId, products: [{ productId: productA, quantity: 3 }, { productId: productB, quantity: 1 }] }], 'lines of one product merged');
  h.send('stock-response-topic', stock(o, productA, 'SUCCESS'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED'], 'waits for every line');
  h.send('stock-response-topic', stock(o, productB, 'SUCCESS'));
  h.send('order-command-topic', pay(o));
  t.like(h.all<{ kind: string }>('payment-request-topic'), [{ orderId: o.orderId, amount: TOTAL, kind: 'CHARGE', paymentKey: `pk-${o.orderId}`, customerId }]);
  h.send('payment-success-topic', paid(o, 'SUCCESS'));
  t.like(h.all('delivery-request-topic'), [{ orderId: o.orderId, customerId, address: o.delivery!.address, zipcode: o.delivery!.zipcode }]);
  h.send('delivery-start-topic', delivery(o, 'STARTED'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED']);
  t.like(h.all('order-completed-topic'), [{ orderId: o.orderId, customerId, totalAmount: TOTAL, itemCount: 4, fulfilment: 'DELIVERY', deliveryId: `d-${o.orderId}` }]);
  t.deepEqual(h.all('stock-release-topic'), []);
  t.is(h.state(o.orderId)?.status, 'COMPLETED');
  t.deepEqual(h.all('order-dead-letter-topic'), []);
});

test('a warehouse order completes after payment with no delivery request', (t) => {
  const h = new Harness();
  const o = order('WAREHOUSE');
  awaitingPayment(h, o).send('order-command-topic', pay(o)).send('payment-success-topic', paid(o, 'SUCCESS'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'IN_WAREHOUSE', 'COMPLETED']);
  t.deepEqual(h.all('delivery-request-topic'), []);
  t.like(h.all('order-completed-topic').at(-1), { orderId: o.orderId, fulfilment: 'WAREHOUSE', deliveryId: null });
});

test('a FAILED line cancels the order and releases exactly the lines already reserved, and later ones as they come', (t) => {
  const h = new Harness();
  const productC = randomUUID();
  const o = order('DELIVERY', { lines: [{ productId: productA, quantity: 2, unitPrice: 1 }, { productId: productB, quantity: 1, unitPrice: 1 }, { productId: productC, quantity: 4, unitPrice: 1 }] });
  h.send('order-placed', o).send('stock-response-topic', stock(o, productA, 'SUCCESS')).send('stock-response-topic', stock(o, productB, 'FAILED'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'CANCELLED']);
  t.regex(h.all<OrderStatusChanged>('order-status-topic').at(-1)!.reason ?? '', /^OUT_OF_STOCK: out of stock: only 0/);
  t.deepEqual(h.all('stock-release-topic'), [{ orderId: o.orderId, productId: productA, quantity: 2, reason: 'OUT_OF_STOCK' }]);
  h.send('stock-response-topic', stock(o, productC, 'SUCCESS'));
  t.deepEqual(h.all('stock-release-topic').at(-1), { orderId: o.orderId, productId: productC, quantity: 4, reason: 'CANCELLED' }, 'a late reservation goes back');
  h.send('stock-response-topic', stock(o, productC, 'SUCCESS'));
  t.is(h.all('stock-release-topic').length, 2, 'released once');
  t.deepEqual(h.all('payment-request-topic'), []);
});

test('payment FAILED cancels the order and releases every line', (t) => {
  const h = new Harness();
  const o = order();
  awaitingPayment(h, o).send('order-command-topic', pay(o)).send('payment-success-topic', paid(o, 'FAILED'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'CANCELLED']);
  t.deepEqual(h.all<{ productId: string; quantity: number; reason: string }>('stock-release-topic').map((r) => [r.productId, r.quantity, r.reason]), [[productA, 3, 'PAYMENT_FAILED'], [productB, 1, 'PAYMENT_FAILED']]);
});

test('delivery FAILED takes the refund path: REFUND_REQUESTED, stock returned, a REFUND request, then REFUNDED', (t) => {
  const h = new Harness();
  const o = order();
  awaitingPayment(h, o).send('order-command-topic', pay(o)).send('payment-success-topic', paid(o, 'SUCCESS')).send('delivery-start-topic', delivery(o, 'FAILED'));
  t.is(h.state(o.orderId)?.status, 'REFUND_REQUESTED');
  t.is(h.all('stock-release-topic').length, 2);
  t.like(h.all<{ kind: string }>('payment-request-topic').map((r) => r.kind), ['CHARGE', 'REFUND']);
  h.send('payment-refund-topic', refunded(o, 'SUCCESS'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'REFUND_REQUESTED', 'REFUNDED']);
  t.deepEqual(h.all('order-completed-topic'), []);
});

test('a failed refund leaves the order REFUND_REQUESTED and is dead-lettered for a person to settle', (t) => {
  const h = new Harness();
  const o = order();
  awaitingPayment(h, o).send('order-command-topic', pay(o)).send('payment-success-topic', paid(o, 'SUCCESS')).send('delivery-start-topic', delivery(o, 'FAILED'));
  h.send('payment-refund-topic', refunded(o, 'FAILED'));
  t.is(h.state(o.orderId)?.status, 'REFUND_REQUESTED');
  t.regex(h.all<SagaEnvelope>('order-dead-letter-topic')[0]!.reason!, /refund of 8000 with pk-.* failed: gateway unavailable/);
});

test('every event delivered twice has the effects of delivering it once', (t) => {
  const once = new Harness();
  const twice = new Harness();
  const o = order();
  const command = pay(o);
  const events: [TopicName, { orderId: string }][] = [
    ['order-placed', o], ['stock-response-topic', stock(o, productA, 'SUCCESS')], ['stock-response-topic', stock(o, productB, 'SUCCESS')],
    ['order-command-topic', command], ['payment-success-topic', paid(o, 'SUCCESS')], ['delivery-start-topic', delivery(o, 'FAILED')],
    ['payment-refund-topic', refunded(o, 'SUCCESS')],
  ];
  for (const [topic, value] of events) {
    once.send(topic, value);
    twice.send(topic, value).send(topic, value);
  }
  for (const topic of ['order-status-topic', 'order-created', 'stock-release-topic', 'payment-request-topic', 'delivery-request-topic'] as const) {
    t.deepEqual(twice.all(topic), once.all(topic), topic);
  }
  t.deepEqual(twice.all('order-dead-letter-topic'), []);
  t.is(twice.state(o.orderId)?.status, 'REFUNDED');
});

test('events asking for a disallowed move are dead-lettered with the reason and never applied', (t) => {
  const h = new Harness();
  const o = order();
  awaitingPayment(h, o);
  h.send('order-command-topic', pay(o, { amount: 1 }));
  h.send('order-command-topic', pay(o, { customerId: randomUUID() }));
  h.send('payment-success-topic', paid(o, 'SUCCESS'));
  h.send('delivery-start-topic', delivery(o, 'STARTED'));
  h.send('order-command-topic', pay(o));
  h.send('order-command-topic', cancelCommand(o));
  const dead = h.all<SagaEnvelope>('order-dead-letter-topic');
  t.deepEqual(dead.map((d) => d.errorType), ['TransitionRejected', 'TransitionRejected', 'TransitionRejected', 'TransitionRejected', 'TransitionRejected']);
  t.regex(dead[0]!.reason!, /PAY of 1, but the order's total is 8000/);
  t.regex(dead[1]!.reason!, /not the order's buyer/);
  t.regex(dead[2]!.reason!, /did not request/);
  t.regex(dead[3]!.reason!, /delivery STARTED while PENDING_PAYMENT/);
  t.regex(dead[4]!.reason!, /CANCEL while PENDING_PAYMENT with a payment under way/);
  t.is(dead[0]!.event.topic, 'order-command-topic', 'the dead letter carries the event');
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'PENDING_PAYMENT']);
  t.is(h.all('payment-request-topic').length, 1);
});

test('an order that fails validation is dead-lettered, not created', (t) => {
  const h = new Harness();
  const o = order('DELIVERY', { delivery: null });
  h.send('order-placed', o);
  t.deepEqual(h.statuses(o.orderId), []);
  t.regex(h.all<SagaEnvelope>('order-dead-letter-topic')[0]!.reason!, /DELIVERY needs a delivery address/);
  t.is(h.state(o.orderId), undefined);
});

test('an event that comes too early is retried with back-off and applied once it can be; other orders flow on meanwhile', (t) => {
  const h = new Harness();
  const o = order();
  const other = order();
  h.send('order-placed', o).send('order-command-topic', pay(o));
  const retried = h.all<SagaEnvelope>('order-retry-topic');
  t.is(retried.length, 1);
  t.like(retried[0], { attempt: 1, errorType: 'NotYetApplicable', nextAttemptAt: START + 1_000, firstFailedAt: START });
  t.regex(retried[0]!.reason!, /PAY while stock is still being reserved/);
  awaitingPayment(h, other);
  t.deepEqual(h.statuses(other.orderId), [null, 'CREATED', 'PENDING_PAYMENT'], 'the waiting PAY holds up nothing');
  h.send('stock-response-topic', stock(o, productA, 'SUCCESS')).send('stock-response-topic', stock(o, productB, 'SUCCESS'));
  t.deepEqual(h.all('payment-request-topic'), [], 'not before the back-off');
  h.advance(999);
  t.deepEqual(h.all('payment-request-topic'), []);
  h.advance(101);
  t.like(h.all('payment-request-topic'), [{ orderId: o.orderId, kind: 'CHARGE' }]);
  t.deepEqual(h.all('order-dead-letter-topic'), []);
});

test('a stock answer that overtakes its order waits for it', (t) => {
  const h = new Harness();
  const o = order();
  h.send('stock-response-topic', stock(o, productA, 'SUCCESS')).send('order-placed', o).send('stock-response-topic', stock(o, productB, 'SUCCESS'));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED']);
  h.advance(1_100);
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'PENDING_PAYMENT']);
});

test('after its last attempt an event goes to the dead-letter topic with the reason', (t) => {
  const h = new Harness({ maxAttempts: 3, retryBackoffMs: 1_000 });
  const o = order();
  h.send('order-placed', o).send('order-command-topic', pay(o));
  for (let i = 0; i < 8; i++) h.advance(1_000);
  t.deepEqual(h.all<SagaEnvelope>('order-retry-topic').map((r) => [r.attempt, r.nextAttemptAt - START]), [[1, 1_000], [2, 3_000], [3, 7_000]]);
  const [dead] = h.all<SagaEnvelope>('order-dead-letter-topic');
  t.like(dead, { attempt: 3, errorType: 'NotYetApplicable', firstFailedAt: START });
  t.regex(dead!.reason!, /gave up after 3 retries: .*PAY while stock is still being reserved/);
});

test('an order left unpaid past the deadline is cancelled and its stock released; a paid one is not', (t) => {
  const h = new Harness({ paymentDeadlineMs: 60_000 });
  const unpaid = order();
  const payingLate = order();
  awaitingPayment(h, unpaid);
  awaitingPayment(h, payingLate).send('order-command-topic', pay(payingLate));
  h.advance(59_000);
  t.is(h.state(unpaid.orderId)?.status, 'PENDING_PAYMENT');
  h.advance(1_100);
  t.deepEqual(h.statuses(unpaid.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'CANCELLED']);
  t.regex(h.state(unpaid.orderId)!.reason!, /^PAYMENT_TIMEOUT/);
  t.deepEqual(h.all<{ orderId: string }>('stock-release-topic').map((r) => r.orderId), [unpaid.orderId, unpaid.orderId]);
  t.is(h.state(payingLate.orderId)?.status, 'PENDING_PAYMENT', 'a payment under way is not cut off');
  h.send('order-command-topic', pay(unpaid));
  t.is(h.all('payment-request-topic').length, 1, 'a PAY after the deadline is refused');
  t.regex(h.all<SagaEnvelope>('order-dead-letter-topic')[0]!.reason!, /PAY while CANCELLED/);
});

test('a payment deadline entry lasts while the order awaits payment: a paid or cancelled order takes its entry out', (t) => {
  const h = new Harness({ paymentDeadlineMs: 60_000 });
  const deadlines = () => [...h.driver.getStore<KeyValueStore<string, string>>(DEADLINES_STORE).range(undefined, undefined)].map((e) => e.value);
  const paying = order();
  const cancelled = order();
  const waiting = order();
  for (const o of [paying, cancelled, waiting]) awaitingPayment(h, o);
  t.deepEqual(deadlines().sort(), [paying.orderId, cancelled.orderId, waiting.orderId].sort());
  h.send('order-command-topic', pay(paying)).send('payment-success-topic', paid(paying, 'SUCCESS'));
  h.send('order-command-topic', cancelCommand(cancelled));
  t.not(h.state(paying.orderId)?.status, 'PENDING_PAYMENT');
  t.is(h.state(cancelled.orderId)?.status, 'CANCELLED');
  t.deepEqual(deadlines(), [waiting.orderId]);
  h.advance(61_000);
  t.is(h.state(waiting.orderId)?.status, 'CANCELLED', 'the one left still expires');
  t.deepEqual(deadlines(), []);
});

test('a processor running behind does not cut the buyer\'s time: a PAY sent before the deadline is applied, an order never paid still expires', (t) => {
  const h = new Harness({ paymentDeadlineMs: 60_000 });
  const payer = order();
  const unpaid = order();
  awaitingPayment(h, payer);
  awaitingPayment(h, unpaid);
  // Wall-clock time runs past the deadline while the task works through a backlog of older records.
  for (let i = 1; i <= 140; i++) {
    const backlog = order();
    h.advance(500).send('order-placed', backlog, START + i * 100);
  }
  t.is(h.state(payer.orderId)?.status, 'PENDING_PAYMENT', 'not expired while the task is behind');
  // The PAY the buyer sent at +59 s comes out of the backlog at +70 s of wall-clock time.
  h.send('order-command-topic', pay(payer), START + 59_000);
  t.like(h.all('payment-request-topic'), [{ orderId: payer.orderId }]);
  const later = order();
  h.send('order-placed', later, START + 62_000).advance(100);
  t.is(h.state(unpaid.orderId)?.status, 'CANCELLED', 'expired once the task is past the deadline');
  t.is(h.state(payer.orderId)?.status, 'PENDING_PAYMENT', 'the paid order waits for its payment');
});

test('CANCEL is honoured in CREATED and PENDING_PAYMENT; a reservation answered after it is released', (t) => {
  const h = new Harness();
  const early = order();
  h.send('order-placed', early).send('order-command-topic', cancelCommand(early)).send('stock-response-topic', stock(early, productA, 'SUCCESS')).send('stock-response-topic', stock(early, productB, 'FAILED'));
  t.deepEqual(h.statuses(early.orderId), [null, 'CREATED', 'CANCELLED']);
  t.regex(h.state(early.orderId)!.reason!, /^CANCELLED_BY_BUYER: cancelled by the buyer: changed my mind/);
  t.deepEqual(h.all<{ productId: string }>('stock-release-topic').map((r) => r.productId), [productA]);
  const later = order();
  awaitingPayment(h, later).send('order-command-topic', cancelCommand(later));
  t.deepEqual(h.statuses(later.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'CANCELLED']);
  t.is(h.all<{ orderId: string }>('stock-release-topic').filter((r) => r.orderId === later.orderId).length, 2);
});

test('a CANCEL for an order already cancelled is a no-op, not a rejection; a CANCEL after completion is rejected', (t) => {
  const h = new Harness();
  const o = order();
  h.send('order-placed', o).send('stock-response-topic', stock(o, productA, 'FAILED')).send('order-command-topic', cancelCommand(o));
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED', 'CANCELLED']);
  t.regex(h.state(o.orderId)!.reason!, /^OUT_OF_STOCK/, 'the first reason stands');
  t.deepEqual(h.all('order-dead-letter-topic'), []);
  const done = order('WAREHOUSE');
  awaitingPayment(h, done).send('order-command-topic', pay(done)).send('payment-success-topic', paid(done, 'SUCCESS')).send('order-command-topic', cancelCommand(done));
  t.regex(h.all<SagaEnvelope>('order-dead-letter-topic')[0]!.reason!, /CANCEL while COMPLETED: cannot be cancelled/);
});

/** 1, 2, …, n: one number per status change, none skipped or repeated. */
const oneToN = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

test('status events carry sequence 1..n per order, without gaps, on every path; redelivered no-ops and other orders do not move it', (t) => {
  const h = new Harness();
  const delivered = order();
  const outOfStock = order();
  const refund = order();
  const warehouse = order('WAREHOUSE');
  const timedOut = order();
  h.send('order-placed', delivered).send('order-placed', outOfStock).send('order-placed', refund);
  h.send('stock-response-topic', stock(outOfStock, productA, 'SUCCESS')).send('stock-response-topic', stock(outOfStock, productB, 'FAILED'));
  h.send('stock-response-topic', stock(outOfStock, productB, 'FAILED'));
  awaitingPayment(h, delivered).send('order-command-topic', pay(delivered)).send('payment-success-topic', paid(delivered, 'SUCCESS'));
  h.send('payment-success-topic', paid(delivered, 'SUCCESS')).send('delivery-start-topic', delivery(delivered, 'STARTED'));
  awaitingPayment(h, refund).send('order-command-topic', pay(refund)).send('payment-success-topic', paid(refund, 'SUCCESS'))
    .send('delivery-start-topic', delivery(refund, 'FAILED')).send('payment-refund-topic', refunded(refund, 'SUCCESS')).send('payment-refund-topic', refunded(refund, 'SUCCESS'));
  awaitingPayment(h, warehouse).send('order-command-topic', pay(warehouse)).send('payment-success-topic', paid(warehouse, 'SUCCESS'));
  awaitingPayment(h, timedOut).advance(61_100);

  t.deepEqual(h.statuses(outOfStock.orderId), [null, 'CREATED', 'CANCELLED']);
  t.deepEqual(h.sequences(outOfStock.orderId), oneToN(2), 'out of stock: created, cancelled; the repeated FAILED emits nothing');
  t.deepEqual(h.sequences(delivered.orderId), oneToN(6), 'delivered: CREATED … COMPLETED');
  t.is(h.state(refund.orderId)?.status, 'REFUNDED');
  t.deepEqual(h.sequences(refund.orderId), oneToN(6), 'refund: CREATED … REFUNDED; the repeated refund outcome emits nothing');
  t.deepEqual(h.sequences(warehouse.orderId), oneToN(5), 'warehouse: CREATED … COMPLETED');
  t.deepEqual(h.statuses(timedOut.orderId), [null, 'CREATED', 'PENDING_PAYMENT', 'CANCELLED']);
  t.deepEqual(h.sequences(timedOut.orderId), oneToN(3), 'the payment deadline numbers its cancellation too');
  t.is(h.state(delivered.orderId)?.version, 6, 'the count lives in the order state (the changelogged store)');
  const ids = h.all<OrderStatusChanged>('order-status-topic').map((c) => c.eventId);
  t.is(new Set(ids).size, ids.length, 'each status event has its own id');
});

test('the users table: users-topic fills the global store, latest value per id', (t) => {
  const h = new Harness();
  h.user(user({ name: 'Kim Min-ji', updatedAt: START + 1 }));
  t.like(h.driver.getStore<KeyValueStore<string, User>>(USERS_STORE).get(customerId), { name: 'Kim Min-ji', role: 'BUYER' });
});

test('an order by a customer the users table does not know waits with back-off, and goes ahead once the user arrives', (t) => {
  const h = new Harness();
  const newcomer = randomUUID();
  const o = order('DELIVERY', { customerId: newcomer });
  h.send('order-placed', o);
  t.deepEqual(h.statuses(o.orderId), [], 'not created yet');
  const [retry] = h.all<SagaEnvelope>('order-retry-topic');
  t.like(retry, { attempt: 1, errorType: 'NotYetApplicable', nextAttemptAt: START + 1_000 });
  t.regex(retry!.reason!, new RegExp(`customer ${newcomer} is not \\(yet\\) a known user`));
  h.user(user({ id: newcomer }));
  h.advance(1_100);
  t.deepEqual(h.statuses(o.orderId), [null, 'CREATED']);
  t.deepEqual(h.sequences(o.orderId), [1]);
  t.deepEqual(h.all('order-dead-letter-topic'), []);
});

test('an order by a customer who never becomes known is dead-lettered after the last attempt, with the reason', (t) => {
  const h = new Harness({ maxAttempts: 3, retryBackoffMs: 1_000 });
  const o = order('DELIVERY', { customerId: randomUUID() });
  h.send('order-placed', o);
  for (let i = 0; i < 8; i++) h.advance(1_000);
  t.is(h.all('order-retry-topic').length, 3);
  const [dead] = h.all<SagaEnvelope>('order-dead-letter-topic');
  t.like(dead, { attempt: 3, errorType: 'NotYetApplicable' });
  t.regex(dead!.reason!, /gave up after 3 retries: .*is not \(yet\) a known user/);
  t.is(h.state(o.orderId), undefined);
  t.deepEqual(h.all('order-created'), []);
});

test('an order placed by a SELLER is rejected with the reason and never created', (t) => {
  const h = new Harness();
  const seller = randomUUID();
  h.user(user({ id: seller, role: 'SELLER', email: 'shop@example.com' }));
  const o = order('DELIVERY', { customerId: seller });
  h.send('order-placed', o);
  const dead = h.all<SagaEnvelope>('order-dead-letter-topic');
  t.is(dead.length, 1);
  t.like(dead[0], { errorType: 'TransitionRejected', orderId: o.orderId });
  t.regex(dead[0]!.reason!, new RegExp(`customer ${seller} is a SELLER, not a BUYER`));
  t.is(dead[0]!.event.topic, 'order-placed', 'the dead letter carries the order');
  t.deepEqual(h.all('order-retry-topic'), [], 'not retried');
  t.is(h.state(o.orderId), undefined);
  t.deepEqual(h.statuses(o.orderId), []);
  t.deepEqual(h.all('order-created'), []);
});

test('a user who changes role is judged by their latest version', (t) => {
  const h = new Harness();
  h.user(user({ role: 'SELLER', updatedAt: START + 1 }));
  const o = order();
  h.send('order-placed', o);
  t.regex(h.all<SagaEnvelope>('order-dead-letter-topic')[0]!.reason!, /is a SELLER/);
  h.user(user({ role: 'BUYER', updatedAt: START + 2 }));
  const again = order();
  h.send('order-placed', again);
  t.deepEqual(h.statuses(again.orderId), [null, 'CREATED']);
});

/** Places a DELIVERY order with this recipient and takes it to the delivery request. */
function deliveryRequestFor(h: Harness, recipient: { name: string; phone: string }): DeliveryRequestMessage {
  const o = order('DELIVERY', { delivery: { ...sampleValue('order-placed').delivery!, ...recipient } });
  awaitingPayment(h, o).send('order-command-topic', pay(o)).send('payment-success-topic', paid(o, 'SUCCESS'));
  const request = h.all<DeliveryRequestMessage>('delivery-request-topic').find((r) => r.orderId === o.orderId);
  if (request === undefined) throw new Error(`no delivery request for ${o.orderId}`);
  return request;
}

test('a delivery recipient with an empty name or phone is filled from the buyer\'s profile; given ones are kept', (t) => {
  const h = new Harness();
  t.like(deliveryRequestFor(h, { name: '', phone: '' }), { name: 'Kim Minji', phone: '010-1234-5678', customerId });
  t.like(deliveryRequestFor(h, { name: '  ', phone: '02-555-0100' }), { name: 'Kim Minji', phone: '02-555-0100' });
  t.like(deliveryRequestFor(h, { name: 'Lee Seo-yeon', phone: '' }), { name: 'Lee Seo-yeon', phone: '010-1234-5678' });
  t.like(deliveryRequestFor(h, { name: 'Lee Seo-yeon', phone: '02-555-0100' }), { name: 'Lee Seo-yeon', phone: '02-555-0100' });
});

test('a profile without a phone leaves an empty recipient phone empty; the recipient is fixed when the order is placed', (t) => {
  const h = new Harness();
  h.user(user({ phone: null }));
  const o = order('DELIVERY', { delivery: { ...sampleValue('order-placed').delivery!, name: '', phone: '' } });
  awaitingPayment(h, o);
  t.like(h.state(o.orderId)?.delivery, { name: 'Kim Minji', phone: '' });
  h.user(user({ name: 'Renamed Later', phone: '010-9999-0000', updatedAt: START + 5 }));
  h.send('order-command-topic', pay(o)).send('payment-success-topic', paid(o, 'SUCCESS'));
  t.like(h.all('delivery-request-topic'), [{ orderId: o.orderId, name: 'Kim Minji', phone: '' }], 'as decided at placement');
});

test('a redelivered OrderPlaced is recognised even after its buyer left the table', (t) => {
  const h = new Harness();
  const o = order();
  h.send('order-placed', o);
  h.driver.pipe('users-topic', customerId, null, { timestamp: START });
  t.is(h.driver.getStore<KeyValueStore<string, User>>(USERS_STORE).get(customerId), undefined, 'a tombstone removes the user');
  h.send('order-placed', o);
  t.deepEqual(h.sequences(o.orderId), [1]);
  t.deepEqual(h.all('order-retry-topic'), []);
  t.deepEqual(h.all('order-dead-letter-topic'), []);
});

test('the status machine: terminal statuses lead nowhere, only CREATED and PENDING_PAYMENT can be cancelled', (t) => {
  for (const [status, info] of Object.entries(ORDER_STATUSES)) {
    t.is(info.terminal, info.next.length === 0, status);
    t.is(info.canCancel, status === 'CREATED' || status === 'PENDING_PAYMENT', status);
    for (const next of info.next) t.true(canTransitionTo(status as OrderStatus, next));
  }
  t.false(canTransitionTo('COMPLETED', 'CANCELLED'));
  t.false(canTransitionTo('PENDING_PAYMENT', 'COMPLETED'));
  t.true(canTransitionTo('PREPARING', 'REFUND_REQUESTED'));
});
