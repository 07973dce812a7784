import test from 'ava';
import { DeadLetterHeaders, TopologyTestDriver, type KeyValueStore } from '../engine/index.ts';
import type { PaymentOutcome, PaymentRefundMessage, PaymentRequestMessage, PaymentSuccessMessage } from '../../schemas/index.ts';
import { plainContracts } from '../common/index.ts';
import {
  FAILURE_REASON_HEADER, PAYMENT_EXPIRIES_STORE, PAYMENTS_STORE, PG_REQUESTS, PG_RESULTS, RESENDS_STORE, paymentTopology, type PaymentEntry, type PaymentKind,
} from './topology.ts';

const ORDER = '5f0c3c1e-8d55-4d0a-9a53-0c1f6b1c2a01';
const OTHER = '5f0c3c1e-8d55-4d0a-9a53-0c1f6b1c2a02';
const REQUESTS = 'payment-request-topic';
const SUCCESS = 'payment-success-topic';
const REFUNDS = 'payment-refund-topic';
const APP = 'payment-test';
/** The driver takes internal topics by their declared names, as the charger's outcomes topic here. */
const RESULTS = PG_RESULTS;

function request(orderId: string, kind: PaymentKind = 'CHARGE', over: Partial<PaymentRequestMessage> = {}): PaymentRequestMessage {
  return {
    eventId: `evt-${orderId}-${kind}`, orderId, paymentKey: `pk-${orderId}`, amount: 4200,
    customerId: '0d6b2f4e-1111-4d0a-9a53-0c1f6b1c2a99', requestedAt: 1_700_000_000_000, kind, ...over,
  };
}

function outcome(orderId: string, status: 'SUCCESS' | 'FAILED', kind: PaymentKind = 'CHARGE'): PaymentOutcome {
  return { orderId, paymentKey: `pk-${orderId}`, amount: 4200, status, kind };
}

/** What payment-success-topic carries: the contract's four fields. */
function charged(orderId: string, status: 'SUCCESS' | 'FAILED'): PaymentSuccessMessage {
  return { orderId, paymentKey: `pk-${orderId}`, amount: 4200, status };
}

function refunded(orderId: string, status: 'SUCCESS' | 'FAILED', reason: string | null = null): PaymentRefundMessage {
  return { orderId, paymentKey: `pk-${orderId}`, amount: 4200, status, reason };
}

function driver(): TopologyTestDriver {
  return new TopologyTestDriver(paymentTopology(plainContracts()), { applicationId: APP, errors: { processing: 'dead-letter' } });
}

test('the first request is stored PENDING and forwarded to the charger; nothing is emitted yet', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [[ORDER, request(ORDER)]]);
  t.deepEqual(d.readKeyValues(SUCCESS), []);
  t.like(d.getStore<KeyValueStore<string, PaymentEntry>>(PAYMENTS_STORE).get(`${ORDER}/CHARGE`), { state: 'PENDING', amount: 4200 });
  d.close();
});

test('a request without kind (written before kind existed) is a CHARGE', (t) => {
  const d = driver();
  const { kind: _kind, ...old } = request(ORDER);
  d.pipe(REQUESTS, ORDER, old);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [[ORDER, { ...old, kind: 'CHARGE' }]]);
  d.close();
});

test('a duplicate request while PENDING is dropped', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  d.pipe(REQUESTS, ORDER, { ...request(ORDER), eventId: 'evt-again' });
  t.is(d.readKeyValues(PG_REQUESTS).length, 1);
  t.deepEqual(d.readKeyValues(SUCCESS), []);
  d.close();
});

test('the outcome is stored and emitted keyed by orderId; a duplicate request after it gets the stored outcome', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'SUCCESS'));
  t.deepEqual(d.readKeyValues(SUCCESS), [[ORDER, charged(ORDER, 'SUCCESS')]]);
  t.like(d.getStore<KeyValueStore<string, PaymentEntry>>(PAYMENTS_STORE).get(`${ORDER}/CHARGE`), { state: 'DONE', outcome: { status: 'SUCCESS' } });
  d.pipe(REQUESTS, ORDER, request(ORDER));
  t.deepEqual(d.readKeyValues(SUCCESS), [[ORDER, charged(ORDER, 'SUCCESS')]], 're-emitted');
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [[ORDER, request(ORDER)]], 'the charger was asked once');
  d.close();
});

test('the first outcome wins; a later one for the same order and kind is a duplicate', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'FAILED'), { headers: { [FAILURE_REASON_HEADER]: Buffer.from('card declined') } });
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'SUCCESS'));
  const out = d.readOutput<string, PaymentSuccessMessage>(SUCCESS);
  t.is(out.length, 1);
  t.is(out[0]!.value.status, 'FAILED');
  t.is(out[0]!.headers[FAILURE_REASON_HEADER]?.toString(), 'card declined');
  d.pipe(REQUESTS, ORDER, request(ORDER));
  const again = d.readOutput<string, PaymentSuccessMessage>(SUCCESS);
  t.is(again[0]!.value.status, 'FAILED');
  t.is(again[0]!.headers[FAILURE_REASON_HEADER]?.toString(), 'card declined', 'the reason is kept with the outcome');
  t.is(d.changelog(PAYMENTS_STORE).length, 2, 'PENDING, then the outcome once');
  d.close();
});

test('a refund flows separately from the charge of the same order', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'SUCCESS'));
  d.pipe(REQUESTS, ORDER, request(ORDER, 'REFUND'));
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [[ORDER, request(ORDER)], [ORDER, request(ORDER, 'REFUND')]]);
  d.pipe(REQUESTS, ORDER, request(ORDER, 'REFUND'));
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [], 'the refund is PENDING: dropped');
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'SUCCESS', 'REFUND'));
  t.deepEqual(d.readKeyValues(SUCCESS), [[ORDER, charged(ORDER, 'SUCCESS')]], 'the charge on payment-success-topic');
  t.deepEqual(d.readKeyValues(REFUNDS), [[ORDER, refunded(ORDER, 'SUCCESS')]], 'the refund on payment-refund-topic');
  const store = d.getStore<KeyValueStore<string, PaymentEntry>>(PAYMENTS_STORE);
  t.like(store.get(`${ORDER}/CHARGE`), { state: 'DONE' });
  t.like(store.get(`${ORDER}/REFUND`), { state: 'DONE', outcome: { kind: 'REFUND' } });
  d.close();
});

test('orders do not interfere', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  d.pipe(REQUESTS, OTHER, request(OTHER));
  d.pipe(RESULTS, OTHER, outcome(OTHER, 'FAILED'));
  t.deepEqual(d.readKeyValues(SUCCESS), [[OTHER, charged(OTHER, 'FAILED')]]);
  t.is(d.readKeyValues(PG_REQUESTS).length, 2);
  d.close();
});

for (const [name, key, value, field] of [
  ['a zero amount', ORDER, request(ORDER, 'CHARGE', { amount: 0 }), 'amount'],
  ['a negative amount', ORDER, request(ORDER, 'CHARGE', { amount: -1 }), 'amount'],
  ['a fractional amount', ORDER, request(ORDER, 'CHARGE', { amount: 1.5 }), 'amount'],
  ['an empty paymentKey', ORDER, request(ORDER, 'CHARGE', { paymentKey: '' }), 'paymentKey'],
  ['a key other than the orderId', OTHER, request(ORDER), 'key'],
  ['an unknown kind', ORDER, request(ORDER, 'CAPTURE' as PaymentKind), 'kind'],
  ['a tombstone', ORDER, null, 'value'],
] as const) {
  test(`invalid input is dead-lettered with a PaymentValidationError: ${name}`, (t) => {
    const d = driver();
    d.pipe(REQUESTS, key, value);
    const dead = d.readOutput(`${APP}-dlq`);
    t.is(dead.length, 1);
    t.is(dead[0]!.headers[DeadLetterHeaders.error]?.toString(), 'PaymentValidationError');
    t.regex(dead[0]!.headers[DeadLetterHeaders.reason]?.toString() ?? '', new RegExp(field));
    t.deepEqual(d.readKeyValues(PG_REQUESTS), []);
    t.deepEqual(d.readKeyValues(SUCCESS), []);
    t.is(d.changelog(PAYMENTS_STORE).length, 0, 'nothing stored');
    d.close();
  });
}

test('internal topics are the application\'s, co-partitioned with the requests', (t) => {
  const topology = paymentTopology(plainContracts());
  t.deepEqual(topology.describe().internalTopics.map((i) => i.name).sort(),
    [PG_REQUESTS, PG_RESULTS, `${PAYMENTS_STORE}-changelog`, `${RESENDS_STORE}-changelog`, `${PAYMENT_EXPIRIES_STORE}-changelog`].sort());
  // order-status-topic too: retention (on by default) learns there that an order ended.
  t.deepEqual(topology.copartitionedTopics(), [[REQUESTS, PG_RESULTS, 'order-status-topic']]);
  t.is(topology.subtopologies().length, 1, 'requests and outcomes share the store, hence the task');
});

test('a failed refund reaches payment-refund-topic with the reason', (t) => {
  const d = driver();
  d.pipe(REQUESTS, ORDER, request(ORDER, 'REFUND'));
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'FAILED', 'REFUND'), { headers: { [FAILURE_REASON_HEADER]: Buffer.from('no captured charge') } });
  t.deepEqual(d.readKeyValues(REFUNDS), [[ORDER, refunded(ORDER, 'FAILED', 'no captured charge')]]);
  t.deepEqual(d.readKeyValues(SUCCESS), []);
  d.close();
});

function resendDriver(pendingResendMs = 10_000): TopologyTestDriver {
  return new TopologyTestDriver(paymentTopology(plainContracts(), { pendingResendMs, resendTickMs: 100 }), {
    applicationId: APP, errors: { processing: 'dead-letter' }, wallClockStartMs: 1_000_000,
  });
}

test('a request left PENDING is re-sent, the same request, once per pendingResendMs until its outcome arrives', (t) => {
  const d = resendDriver();
  d.pipe(REQUESTS, ORDER, request(ORDER));
  d.pipe(REQUESTS, OTHER, request(OTHER));
  t.is(d.readKeyValues(PG_REQUESTS).length, 2);
  d.pipe(RESULTS, OTHER, outcome(OTHER, 'SUCCESS'));
  d.advanceWallClockTime(9_900);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [], 'not due yet');
  d.advanceWallClockTime(200);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [[ORDER, request(ORDER)]], 'only the order without an outcome, unchanged (same key at the gateway)');
  d.advanceWallClockTime(5_000);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [], 'the next re-send is pendingResendMs after this one');
  d.advanceWallClockTime(5_100);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [[ORDER, request(ORDER)]]);
  t.like(d.getStore<KeyValueStore<string, PaymentEntry>>(PAYMENTS_STORE).get(`${ORDER}/CHARGE`), { state: 'PENDING', resends: 2 });
  d.pipe(RESULTS, ORDER, outcome(ORDER, 'SUCCESS'));
  t.deepEqual(d.readKeyValues(SUCCESS).map(([k]) => k), [OTHER, ORDER]);
  t.is(d.getStore<KeyValueStore<string, string>>(RESENDS_STORE).approximateNumEntries(), 0, 'settled entries leave the index');
  d.advanceWallClockTime(60_000);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), [], 'no re-send after the outcome');
  d.close();
});

test('pendingResendMs 0 never re-sends; an old PENDING entry without the request is left alone', (t) => {
  const off = resendDriver(0);
  off.pipe(REQUESTS, ORDER, request(ORDER));
  off.readKeyValues(PG_REQUESTS);
  off.advanceWallClockTime(3_600_000);
  t.deepEqual(off.readKeyValues(PG_REQUESTS), []);
  off.close();
  const d = resendDriver();
  d.getStore<KeyValueStore<string, PaymentEntry>>(PAYMENTS_STORE).put(`${OTHER}/CHARGE`, { state: 'PENDING', eventId: 'e', amount: 4200, requestedAt: 0 });
  d.getStore<KeyValueStore<string, string>>(RESENDS_STORE).put(`000000000000000/${OTHER}/CHARGE`, `${OTHER}/CHARGE`);
  d.advanceWallClockTime(20_000);
  t.deepEqual(d.readKeyValues(PG_REQUESTS), []);
  t.is(d.getStore<KeyValueStore<string, string>>(RESENDS_STORE).approximateNumEntries(), 0);
  d.close();
});
