/** Validation names the field path, what was expected and what was there. */
import test from 'ava';
import { validate, compileValidator } from './validate.ts';
import { topicCodec } from './codec.ts';
import { RecordValidationError } from './errors.ts';
import { sampleValue } from './samples.ts';
import { topicNames } from './topics.ts';

const messages = (topic: string, value: unknown) => validate(topic, value).map((p) => p.message);

test('every sample value is valid', (t) => {
  for (const topic of topicNames()) t.deepEqual(validate(topic, sampleValue(topic)), [], topic);
});

test('a wrong type inside an array names the element and field', (t) => {
  const value = sampleValue('order-created') as unknown as { products: Record<string, unknown>[] };
  value.products[1] = { ...value.products[1], quantity: '3' };
  t.deepEqual(validate('order-created', value), [
    {
      path: 'products[1].quantity',
      expected: 'int',
      got: '"3" (string)',
      message: 'products[1].quantity: expected int, got "3" (string)',
    },
  ]);
});

test('missing fields, malformed uuids, unknown enum symbols and undeclared fields', (t) => {
  const { message: _dropped, ...rest } = sampleValue('stock-response-topic');
  t.deepEqual(messages('stock-response-topic', { ...rest, orderId: 'order-1', status: 'OK', mesage: 'typo' }), [
    'orderId: expected uuid, got "order-1" (string, not a uuid)',
    'status: expected one of SUCCESS|FAILED, got "OK" (string)',
    'message: expected string, got undefined (missing)',
    'mesage: unexpected field (StockResponseMessage has orderId, productId, status, message), got "typo" (string)',
  ]);
});

test('numbers: not integers, out of int range, unsafe longs', (t) => {
  const payment = { ...sampleValue('payment-success-topic'), amount: 12.5 };
  t.deepEqual(messages('payment-success-topic', payment), ['amount: expected int, got 12.5 (number, not an integer)']);
  t.deepEqual(messages('payment-success-topic', { ...payment, amount: 2 ** 31 }), [
    'amount: expected int, got 2147483648 (number, out of int range)',
  ]);
  const status = { ...sampleValue('order-status-topic'), at: new Date() };
  t.deepEqual(messages('order-status-topic', status), [`at: expected timestamp-millis (long), got ${status.at.toISOString()} (Date)`]);
});

test('an optional record reports the problems inside it, with their paths', (t) => {
  const placed = sampleValue('order-placed');
  const value = { ...placed, delivery: { ...placed.delivery, zipcode: 6236 } };
  t.deepEqual(messages('order-placed', value), ['delivery.zipcode: expected string, got 6236 (number)']);
  // Optional fields may be left out (their default applies) or null.
  const { delivery: _d, idempotencyKey: _k, ...bare } = placed;
  t.deepEqual(validate('order-placed', bare), []);
  t.deepEqual(validate('order-placed', { ...bare, delivery: null }), []);
});

test('unions, maps and bytes', (t) => {
  const envelope = sampleValue('order-retry-topic');
  t.deepEqual(messages('order-retry-topic', { ...envelope, reason: 42, payload: 'AAAA', headers: { a: 'b' } }), [
    'payload: expected bytes (Buffer), got "AAAA" (string)',
    'headers["a"]: expected bytes (Buffer), got "b" (string)',
    'reason: expected string, got 42 (number)',
  ]);
  const v = compileValidator({ type: 'record', name: 'U', fields: [{ name: 'x', type: ['int', 'string', 'null'] }] });
  t.deepEqual(v.validate({ x: true }).map((p) => p.message), ['x: expected int or string or null, got true (boolean)']);
  t.deepEqual(v.validate({ x: 'a' }), []);
});

test('the value itself of the wrong kind', (t) => {
  t.deepEqual(messages('users-topic', 'a user'), ['(value): expected record User, got "a user" (string)']);
  t.deepEqual(messages('users-topic', null), ['(value): expected record User, got null']);
});

test('unknown topics are an error, not an empty list', (t) => {
  t.throws(() => validate('no-such-topic', {}), { message: /unknown topic no-such-topic/ });
});

test('the codec refuses an invalid value with RecordValidationError carrying the problems', (t) => {
  const codec = topicCodec('stock-levels-topic');
  const err = t.throws(() => codec.encode({ ...sampleValue('stock-levels-topic'), available: '40' as unknown as number }), {
    instanceOf: RecordValidationError,
  });
  t.is(err?.record, 'com.orderstream.stock.StockLevel');
  t.deepEqual(err?.problems.map((p) => p.path), ['available']);
  t.regex(err?.message ?? '', /invalid com\.orderstream\.stock\.StockLevel: available: expected int, got "40" \(string\)/);
});

test('the codec round-trips every topic as plain objects, defaults filled in', (t) => {
  for (const topic of topicNames()) {
    const codec = topicCodec(topic);
    const value = sampleValue(topic);
    t.deepEqual(codec.decode(codec.encode(value)), value, topic);
  }
  const { phone: _p, ...user } = sampleValue('users-topic');
  const codec = topicCodec('users-topic');
  t.deepEqual(codec.decode(codec.encode(user)), { ...user, phone: null });
  t.is(Object.getPrototypeOf(codec.decode(codec.encode(user))), Object.prototype);
});
