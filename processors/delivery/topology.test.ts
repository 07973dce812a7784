import test, { type ExecutionContext } from 'ava';
import { ProcessingFailure, TopologyTestDriver, type TestDriverOptions } from '../engine/index.ts';
import { chance, derivedId, plainContracts } from '../common/index.ts';
import type { DeliveryRequestMessage, DeliveryStartMessage } from '../../schemas/index.ts';
import { DELIVERIES_STORE, InvalidDeliveryRequest, deliveryTopology, type DeliveryOptions, type DeliveryStore } from './topology.ts';
import { deliveryOptionsFromEnv } from './index.ts';

function driver(t: ExecutionContext, options: DeliveryOptions, driverOptions: TestDriverOptions = {}): TopologyTestDriver {
  const d = new TopologyTestDriver(deliveryTopology(plainContracts(), options), driverOptions);
  t.teardown(() => d.close());
  return d;
}

function request(orderId: string, overrides: Partial<DeliveryRequestMessage> = {}): DeliveryRequestMessage {
  return {
    orderId, customerId: 'customer-1', address: '1 Main Street', addressDetail: 'Apt 2', zipcode: '12345',
    phone: '555-0100', name: 'Ada Buyer', deliveryMemo: '', ...overrides,
  };
}

const send = (d: TopologyTestDriver, r: DeliveryRequestMessage) => d.pipe('delivery-request-topic', r.orderId, r);
const answers = (d: TopologyTestDriver) => d.readKeyValues<string, DeliveryStartMessage>('delivery-start-topic');
const stored = (d: TopologyTestDriver) => d.getStore<DeliveryStore>(DELIVERIES_STORE).all();

test('a request at failure rate 0 starts a delivery with an id derived from the order', (t) => {
  const d = driver(t, { failureRate: 0, seed: 's' });
  send(d, request('o1'));
  const expected: DeliveryStartMessage = { orderId: 'o1', deliveryId: derivedId('delivery', 'o1'), status: 'STARTED' };
  t.deepEqual(answers(d), [['o1', expected]]);
  t.deepEqual(stored(d), [{ key: 'o1', value: expected }]);
  t.deepEqual(d.changelog(DELIVERIES_STORE).map((e) => [e.key.toString(), JSON.parse(e.value!.toString()) as unknown]), [['o1', expected]]);
});

test('at failure rate 1 every request fails', (t) => {
  const d = driver(t, { failureRate: 1, seed: 's' });
  for (const id of ['o1', 'o2', 'o3']) send(d, request(id));
  t.deepEqual(answers(d).map(([k, v]) => [k, v.status, v.deliveryId]), ['o1', 'o2', 'o3'].map((id) => [id, 'FAILED', derivedId('delivery', id)]));
});

test('a seed splits a batch of orders as chance(seed, orderId) says', (t) => {
  const options = { failureRate: 0.5, seed: 'split-seed' };
  const d = driver(t, options);
  const ids = Array.from({ length: 40 }, (_, i) => `order-${i}`);
  for (const id of ids) send(d, request(id));
  const statuses = answers(d).map(([, v]) => v.status);
  t.deepEqual(statuses, ids.map((id) => (chance(options.seed, id) < options.failureRate ? 'FAILED' : 'STARTED')));
  // Both outcomes occur, so the comparison above could tell a wrong draw apart.
  t.true(statuses.includes('FAILED') && statuses.includes('STARTED'));
});

test('a redelivered request gets the stored answer back and changes nothing', (t) => {
  const d = driver(t, { failureRate: 0.5, seed: 'dup' });
  send(d, request('o1'));
  const [first] = answers(d);
  const before = stored(d);
  const logged = d.changelog(DELIVERIES_STORE).length;
  send(d, request('o1', { address: '2 Other Street' }));
  t.deepEqual(answers(d), [first!]);
  t.deepEqual(stored(d), before);
  t.is(d.changelog(DELIVERIES_STORE).length, logged);
});

test('the stored answer wins over a changed failure rate (a restarted processor with new settings)', (t) => {
  // The store is what a restart restores; a topology with another rate must still repeat it.
  const started = driver(t, { failureRate: 0, seed: 's' });
  send(started, request('o1'));
  const [[, first]] = answers(started) as [[string, DeliveryStartMessage]];
  t.is(first.status, 'STARTED');
  const d = driver(t, { failureRate: 1, seed: 's' });
  d.getStore<DeliveryStore>(DELIVERIES_STORE).put('o1', first);
  send(d, request('o1'));
  t.deepEqual(answers(d), [['o1', first]]);
});

test('a request without address, name or zipcode throws InvalidDeliveryRequest and is not answered', (t) => {
  const d = driver(t, { failureRate: 0, seed: 's' });
  for (const bad of [{ address: '' }, { name: '  ' }, { zipcode: '' }]) {
    const e = t.throws(() => send(d, request('o1', bad)), { instanceOf: ProcessingFailure });
    t.true(e?.cause instanceof InvalidDeliveryRequest, String(e?.cause));
  }
  t.deepEqual(answers(d), []);
  t.deepEqual(stored(d), []);
});

test('invalid requests go to dead letters and the stream goes on', (t) => {
  const d = driver(t, { failureRate: 0, seed: 's' }, { errors: { processing: 'dead-letter' } });
  send(d, request('o1', { zipcode: '' }));
  send(d, request('o2'));
  const dead = d.readOutput('test-driver-dlq');
  t.is(dead.length, 1);
  t.is(dead[0]!.headers['dlq.error']?.toString(), 'InvalidDeliveryRequest');
  t.regex(dead[0]!.headers['dlq.reason']!.toString(), /empty zipcode.*order o1/);
  t.deepEqual(answers(d).map(([k, v]) => [k, v.status]), [['o2', 'STARTED']]);
});

test('the spec reads DELIVERY_FAILURE_RATE and DELIVERY_SEED, with defaults', (t) => {
  t.deepEqual(deliveryOptionsFromEnv({}), { failureRate: 0.05, seed: 'delivery' });
  t.deepEqual(deliveryOptionsFromEnv({ DELIVERY_FAILURE_RATE: '0.25', DELIVERY_SEED: 'x' }), { failureRate: 0.25, seed: 'x' });
  t.throws(() => deliveryOptionsFromEnv({ DELIVERY_FAILURE_RATE: 'lots' }), { message: /DELIVERY_FAILURE_RATE/ });
  t.throws(() => deliveryOptionsFromEnv({ DELIVERY_FAILURE_RATE: '1.5' }), { message: /DELIVERY_FAILURE_RATE/ });
});
