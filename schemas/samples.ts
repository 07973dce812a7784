/**
 * One valid value per contract topic, with fresh ids each call: for tests here and in the
 * processors. Typed by the generated types, so a schema change that these no longer fit fails
 * the typecheck.
 */
import { randomUUID } from 'node:crypto';
import type { TopicName, TopicValue } from './topics.ts';

type Samples = { [T in TopicName]: () => TopicValue<T> };

const at = () => Date.now();

const SAMPLES: Samples = {
  'order-created': () => ({
    orderId: randomUUID(),
    products: [
      { productId: randomUUID(), quantity: 2 },
      { productId: randomUUID(), quantity: 1 },
    ],
  }),
  'stock-response-topic': () => ({ orderId: randomUUID(), productId: randomUUID(), status: 'FAILED', message: 'only 1 left' }),
  'payment-success-topic': () => ({ orderId: randomUUID(), paymentKey: `pk_${randomUUID()}`, amount: 45_900, status: 'SUCCESS' }),
  'payment-refund-topic': () => ({ orderId: randomUUID(), paymentKey: `pk_${randomUUID()}`, amount: 45_900, status: 'FAILED', reason: 'no captured charge' }),
  'delivery-request-topic': () => ({
    orderId: randomUUID(),
    customerId: randomUUID(),
    address: '12 Teheran-ro, Gangnam-gu',
    addressDetail: 'Apt 1203',
    zipcode: '06236',
    phone: '+82-10-1234-5678',
    name: 'Kim Minji',
    deliveryMemo: 'Leave at the door — 문 앞에 놓아 주세요',
  }),
  'delivery-start-topic': () => ({ orderId: randomUUID(), deliveryId: randomUUID(), status: 'STARTED' }),
  'order-completed-topic': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    customerId: randomUUID(),
    totalAmount: 45_900,
    paymentKey: `pk_${randomUUID()}`,
    itemCount: 3,
    fulfilment: 'DELIVERY',
    deliveryId: randomUUID(),
    completedAt: at(),
  }),
  'order-processing-topic': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    sourceTopic: 'payment-success-topic',
    sourcePartition: 2,
    sourceOffset: 81_234,
    key: randomUUID(),
    payload: Buffer.from([0, 0, 0, 0, 7, 2, 4, 6]),
    headers: { 'orderstream-trace': Buffer.from('abc') },
    attempt: 0,
    maxAttempts: 3,
    reason: null,
    errorType: null,
    firstFailedAt: null,
    nextAttemptAt: at(),
  }),
  'order-retry-topic': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    sourceTopic: 'stock-response-topic',
    sourcePartition: 0,
    sourceOffset: 17,
    key: null,
    payload: Buffer.from([0, 0, 0, 0, 3, 1]),
    headers: {},
    attempt: 2,
    maxAttempts: 3,
    reason: 'order store unavailable',
    errorType: 'StoreUnavailableError',
    firstFailedAt: at() - 5_000,
    nextAttemptAt: at() + 20_000,
  }),
  'order-dead-letter-topic': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    sourceTopic: 'order-command-topic',
    sourcePartition: 1,
    sourceOffset: 42,
    key: randomUUID(),
    payload: Buffer.from([0, 0, 0, 0, 9, 4]),
    headers: {},
    attempt: 3,
    maxAttempts: 3,
    reason: 'PAY needs status PENDING_PAYMENT, order is CREATED',
    errorType: 'NotYetApplicable',
    firstFailedAt: at() - 9_000,
    nextAttemptAt: at(),
  }),
  'order-placed': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    customerId: randomUUID(),
    lines: [
      { productId: randomUUID(), quantity: 2, unitPrice: 12_000 },
      { productId: randomUUID(), quantity: 1, unitPrice: 21_900 },
    ],
    fulfilment: 'DELIVERY',
    delivery: {
      address: '12 Teheran-ro, Gangnam-gu',
      addressDetail: 'Apt 1203',
      zipcode: '06236',
      phone: '+82-10-1234-5678',
      name: 'Kim Minji',
      deliveryMemo: '',
    },
    idempotencyKey: randomUUID(),
    placedAt: at(),
  }),
  'order-status-topic': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    from: 'PENDING_PAYMENT',
    to: 'CANCELLED',
    reason: 'payment failed',
    at: at(),
    sequence: 3,
  }),
  'payment-request-topic': () => ({
    eventId: randomUUID(),
    orderId: randomUUID(),
    paymentKey: `pk_${randomUUID()}`,
    amount: 45_900,
    customerId: randomUUID(),
    requestedAt: at(),
    kind: 'CHARGE',
  }),
  'order-command-topic': () => ({
    commandId: randomUUID(),
    orderId: randomUUID(),
    customerId: randomUUID(),
    type: 'PAY',
    paymentKey: `pk_${randomUUID()}`,
    amount: 45_900,
    reason: null,
    issuedAt: at(),
  }),
  'users-topic': () => ({ id: randomUUID(), email: 'minji@example.com', role: 'BUYER', name: 'Kim Minji', phone: null, updatedAt: at() }),
  'chat-topic': () => ({
    messageId: randomUUID(),
    orderId: randomUUID(),
    fromUserId: randomUUID(),
    toUserId: randomUUID(),
    text: 'Is the blue one still available?',
    sentAt: at(),
  }),
  'stock-levels-topic': () => ({ productId: randomUUID(), sellerId: randomUUID(), available: 40, updatedAt: at() }),
  'stock-release-topic': () => ({ orderId: randomUUID(), productId: randomUUID(), quantity: 2, reason: 'PAYMENT_FAILED' }),
};

/** A valid value for the topic, every id fresh, every optional field set where it can be. */
export function sampleValue<T extends TopicName>(topic: T): TopicValue<T> {
  return SAMPLES[topic]();
}
