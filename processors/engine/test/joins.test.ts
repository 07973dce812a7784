import test from 'ava';
import { JoinWindows, Serdes, StreamsBuilder, TopologyTestDriver, type KeyValueStore, type Topology } from '../index.ts';
import { Instruction, responseSerdeOf, subscriptionSerdeOf } from '../dsl/foreign-key-join.ts';
import { internals } from '../internals.ts';

const show = (l: string | null, r: string | null) => `[${l}, ${r}]`;

function streamJoins(windows: JoinWindows): Topology {
  const b = new StreamsBuilder();
  const left = b.stream<string, string | null>('left');
  const right = b.stream<string, string | null>('right');
  left.join(right, (l, r) => show(l, r), windows).to('inner');
  left.leftJoin(right, (l, r) => show(l, r), windows).to('left');
  left.outerJoin(right, (l, r) => show(l, r), windows).to('outer');
  return b.build();
}

/**
 * Kafka Streams' "Semantics of stream-stream joins" table (developer guide, DSL API): window 15,
 * grace 5, one key, records in timestamp order. The table's last rows are at 40, 60, 80 and 100;
 * they are at 40, 61, 82 and 103 here, because a window [25, 55] with grace 5 is still open at
 * stream time 60 (a right record at 55 may still arrive and join E) — Kafka Streams' code emits
 * [E, null] only on the first record after 60, as we do.
 */
test('stream–stream inner, left and outer joins follow Kafka Streams\' semantics table', (t) => {
  const d = new TopologyTestDriver(streamJoins(JoinWindows.ofTimeDifferenceAndGrace(15, 5)));
  const rows: [number, 'left' | 'right', string | null][] = [
    [1, 'left', null], [2, 'right', null], [3, 'left', 'A'], [4, 'right', 'a'], [5, 'left', 'B'], [6, 'right', 'b'],
    [7, 'left', null], [8, 'right', null], [9, 'left', 'C'], [10, 'right', 'c'], [11, 'right', null], [12, 'left', null],
    [13, 'right', null], [14, 'right', 'd'], [15, 'left', 'D'],
  ];
  const expectedFirst = [
    '[A, a]', '[B, a]', '[A, b]', '[B, b]', '[C, a]', '[C, b]', '[A, c]', '[B, c]', '[C, c]', '[A, d]', '[B, d]', '[C, d]',
    '[D, a]', '[D, b]', '[D, c]', '[D, d]',
  ];
  for (const [ts, side, value] of rows) d.pipe(side, 'k', value, { timestamp: ts });
  for (const topic of ['inner', 'left', 'outer']) t.deepEqual(d.readKeyValues<string, string>(topic).map(([, v]) => v), expectedFirst, topic);

  const step = (ts: number, side: 'left' | 'right', value: string) => {
    d.pipe(side, 'k', value, { timestamp: ts });
    return ['inner', 'left', 'outer'].map((topic) => d.readOutput<string, string>(topic).map((r) => `${r.value}@${r.timestamp}`));
  };
  t.deepEqual(step(40, 'left', 'E'), [[], [], []], 'E waits for its window to close');
  t.deepEqual(step(61, 'left', 'F'), [[], ['[E, null]@40'], ['[E, null]@40']]);
  t.deepEqual(step(82, 'right', 'f'), [[], ['[F, null]@61'], ['[F, null]@61']]);
  t.deepEqual(step(103, 'left', 'G'), [[], [], ['[null, f]@82']]);
  d.close();
});

test('a joined pair carries the later timestamp; a late partner within the window still joins and cancels the null result', (t) => {
  const d = new TopologyTestDriver(streamJoins(JoinWindows.ofTimeDifferenceAndGrace(10, 10)));
  d.pipe('left', 'k', 'A', { timestamp: 100 });
  d.pipe('right', 'x', 'z', { timestamp: 115 }); // stream time 115: A's window [90,110] + grace still open
  d.pipe('right', 'k', 'a', { timestamp: 105 }); // out of order, inside A's window
  t.deepEqual(d.readOutput<string, string>('inner').map((r) => [r.value, r.timestamp]), [['[A, a]', 105]]);
  d.pipe('left', 'x', 'B', { timestamp: 200 }); // closes every window so far
  t.deepEqual(d.readKeyValues('left'), [['k', '[A, a]']], 'no [A, null]: A found a partner');
  t.deepEqual(d.readKeyValues('outer'), [['k', '[A, a]'], ['x', '[null, z]']], 'z closed unjoined; B waits');
  d.close();
});

test('a left record arriving after its window closed is null-joined at once; null keys and values never join', (t) => {
  const d = new TopologyTestDriver(streamJoins(JoinWindows.ofTimeDifferenceWithNoGrace(10)));
  d.pipe('right', 'k', 'a', { timestamp: 100 });
  d.pipe('left', 'k', 'L', { timestamp: 50 }); // window [40,60] closed long ago at stream time 100
  t.deepEqual(d.readKeyValues('left'), [['k', '[L, null]']]);
  t.deepEqual(d.readKeyValues('inner'), []);
  d.pipe('left', null, 'N', { timestamp: 101 });
  t.deepEqual(d.readKeyValues('left'), [[null, '[N, null]']], 'an outer side reports a keyless record at once');
  t.deepEqual(d.readKeyValues('inner'), []);
  d.close();
});

test('asymmetric windows: before(0) joins only right records at or after the left one', (t) => {
  const b = new StreamsBuilder();
  const left = b.stream<string, string>('left');
  const right = b.stream<string, string>('right');
  left.join(right, (l, r) => `${l}${r}`, JoinWindows.ofTimeDifferenceWithNoGrace(10).before(0)).to('out');
  const d = new TopologyTestDriver(b.build());
  d.pipe('right', 'k', 'a', { timestamp: 5 });
  d.pipe('left', 'k', 'L', { timestamp: 10 });
  d.pipe('right', 'k', 'b', { timestamp: 15 });
  d.pipe('right', 'k', 'c', { timestamp: 21 });
  t.deepEqual(d.readKeyValues('out'), [['k', 'Lb']]);
  d.close();
});

test('a key-changed stream is repartitioned before the join and the inputs are co-partitioned', (t) => {
  const b = new StreamsBuilder();
  const orders = b.stream<string, { customer: string; id: string }>('orders').selectKey((_k, o) => o.customer);
  const payments = b.stream<string, string>('payments');
  orders.join(payments, (o, p) => `${o.id}:${p}`, JoinWindows.ofTimeDifferenceWithNoGrace(10)).to('paid');
  const topology = b.build();
  t.true([...internals(topology).internalTopics.values()].some((i) => i.purpose === 'repartition'));
  t.true(internals(topology).copartitionGroups.some((g) => g.includes('payments') && g.some((x) => x.endsWith('-repartition'))));
  const d = new TopologyTestDriver(topology);
  d.pipe('orders', 'o1', { customer: 'c1', id: 'o1' }, { timestamp: 1 });
  d.pipe('payments', 'c1', 'p1', { timestamp: 3 });
  t.deepEqual(d.readKeyValues('paid'), [['c1', 'o1:p1']]);
  d.close();
});

interface Order { customer: string | null; amount: number }
interface Customer { name: string }

function foreignKeyJoins(): Topology {
  const b = new StreamsBuilder();
  const orders = b.table<string, Order>('orders');
  const customers = b.table<string, Customer>('customers');
  orders.join(customers, (o) => o.customer, (o, c) => `${c.name}:${o.amount}`, { storeName: 'inner-result' }).toStream().to('inner');
  orders.leftJoin(customers, (o) => o.customer, (o, c) => `${c?.name ?? 'null'}:${o.amount}`).toStream().to('left');
  return b.build();
}

test('foreign-key joins follow foreign-key changes, right-side changes and deletes on both sides', (t) => {
  const topology = foreignKeyJoins();
  const d = new TopologyTestDriver(topology);
  const step = (topic: 'orders' | 'customers', key: string, value: Order | Customer | null) => {
    d.pipe(topic, key, value);
    return { inner: d.readKeyValues<string, string | null>('inner'), left: d.readKeyValues<string, string | null>('left') };
  };
  t.deepEqual(step('customers', 'c1', { name: 'ann' }), { inner: [], left: [] });
  t.deepEqual(step('orders', 'o1', { customer: 'c1', amount: 5 }), { inner: [['o1', 'ann:5']], left: [['o1', 'ann:5']] });
  t.deepEqual(step('orders', 'o2', { customer: 'c2', amount: 7 }), { inner: [], left: [['o2', 'null:7']] }, 'no customer c2 yet');
  t.deepEqual(step('customers', 'c2', { name: 'bob' }), { inner: [['o2', 'bob:7']], left: [['o2', 'bob:7']] });
  t.deepEqual(step('customers', 'c1', { name: 'anna' }), { inner: [['o1', 'anna:5']], left: [['o1', 'anna:5']] }, 'a right update reaches its subscribers');
  t.deepEqual(step('orders', 'o1', { customer: 'c2', amount: 5 }), {
    inner: [['o1', 'bob:5']],
    left: [['o1', 'null:5'], ['o1', 'bob:5']], // as Kafka Streams: the old key's retraction, then the new join
  }, 'the foreign key moved from c1 to c2');
  t.deepEqual(step('customers', 'c1', { name: 'ann again' }), { inner: [], left: [] }, 'o1 no longer follows c1');
  t.deepEqual(step('customers', 'c2', null), { inner: [['o1', null], ['o2', null]], left: [['o1', 'null:5'], ['o2', 'null:7']] }, 'right delete');
  t.deepEqual(step('customers', 'c2', { name: 'bobby' }), { inner: [['o1', 'bobby:5'], ['o2', 'bobby:7']], left: [['o1', 'bobby:5'], ['o2', 'bobby:7']] });
  t.deepEqual(step('orders', 'o2', null), { inner: [['o2', null]], left: [['o2', null]] }, 'left delete');
  t.deepEqual(step('customers', 'c2', { name: 'robert' }), { inner: [['o1', 'robert:5']], left: [['o1', 'robert:5']] }, 'the deleted o2 unsubscribed');
  t.deepEqual(step('orders', 'o1', { customer: 'c3', amount: 5 }), { inner: [['o1', null]], left: [['o1', 'null:5'], ['o1', 'null:5']] }, 'moved to a missing key');
  t.deepEqual(step('customers', 'c3', { name: 'carl' }), { inner: [['o1', 'carl:5']], left: [['o1', 'carl:5']] });
  t.deepEqual(step('orders', 'o3', { customer: null, amount: 1 }), { inner: [], left: [['o3', 'null:1']] }, 'no foreign key');
  t.deepEqual(step('orders', 'o3', { customer: 'c3', amount: 1 }), { inner: [['o3', 'carl:1']], left: [['o3', 'carl:1']] }, 'from no foreign key to one');
  t.deepEqual(step('orders', 'o3', { customer: null, amount: 1 }), { inner: [['o3', null]], left: [['o3', 'null:1'], ['o3', 'null:1']] }, 'back to none: retracted');
  t.is(d.getStore<KeyValueStore<string, string>>('inner-result').get('o1'), 'carl:5');
  d.close();
});

test('foreign-key join subscriptions and responses cross internal topics co-partitioned with each table', (t) => {
  const topology = foreignKeyJoins();
  const internal = [...internals(topology).internalTopics.values()].filter((i) => i.purpose === 'repartition').map((i) => i.name);
  const subscription = internal.filter((n) => n.includes('subscription-registration'));
  const response = internal.filter((n) => n.includes('subscription-response'));
  t.is(subscription.length, 2);
  t.is(response.length, 2);
  for (const s of subscription) t.true(internals(topology).copartitionGroups.some((g) => g.includes(s) && g.includes('customers')));
  for (const r of response) t.true(internals(topology).copartitionGroups.some((g) => g.includes(r) && g.includes('orders')));
  t.true(topology.subtopologies().length >= 2, 'the right side runs where the customers are');
});

test('foreign-key subscriptions and responses round-trip through their topic serdes', async (t) => {
  const subscriptions = subscriptionSerdeOf<string>(Serdes.string());
  const s = { hash: 'aGFzaA==', instruction: Instruction.PropagateNullIfNoValue, primaryKey: 'o1', partition: 3 };
  t.deepEqual(await subscriptions.deserialize('t', await subscriptions.serialize('t', s)), s);
  const responses = responseSerdeOf<Customer>(Serdes.json<Customer>());
  for (const r of [{ hash: null, foreignValue: null, partition: 0 }, { hash: 'aA==', foreignValue: { name: 'ann' }, partition: 7 }]) {
    t.deepEqual(await responses.deserialize('t', await responses.serialize('t', r)), r);
  }
});
