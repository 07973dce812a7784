import test from 'ava';
import { StreamsBuilder, TopologyTestDriver, type KeyValueStore } from '../index.ts';

test('word count: flatMapValues, groupBy (repartition), count, toStream', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('text')
    .flatMapValues((line) => line.toLowerCase().split(/\W+/).filter(Boolean))
    .groupBy((_k, word) => word)
    .count({ storeName: 'counts' })
    .toStream()
    .to('word-counts');
  const d = new TopologyTestDriver(b.build());
  d.pipe('text', null, 'the cat and the hat').pipe('text', null, 'The end');
  t.deepEqual(d.readKeyValues('word-counts'), [['the', 1], ['cat', 1], ['and', 1], ['the', 2], ['hat', 1], ['the', 3], ['end', 1]]);
  t.is(d.getStore<KeyValueStore<string, number>>('counts').get('the'), 3);
  t.true(d.changelog('counts').length === 7, 'every update is logged');
  d.close();
});

test('stream–table join sees the table as of each stream record', (t) => {
  const b = new StreamsBuilder();
  const users = b.table<string, { name: string }>('users');
  b.stream<string, { amount: number }>('orders')
    .join(users, (o, u) => `${u.name}:${o.amount}`)
    .to('enriched');
  b.stream<string, { amount: number }>('orders2')
    .leftJoin(users, (o, u) => `${u?.name ?? '?'}:${o.amount}`)
    .to('enriched-left');
  const d = new TopologyTestDriver(b.build());
  d.pipe('orders', 'u1', { amount: 5 });
  d.pipe('users', 'u1', { name: 'ann' });
  d.pipe('orders', 'u1', { amount: 7 });
  d.pipe('orders2', 'u2', { amount: 1 });
  d.pipe('users', 'u1', null);
  d.pipe('orders', 'u1', { amount: 9 });
  t.deepEqual(d.readKeyValues('enriched'), [['u1', 'ann:7']]);
  t.deepEqual(d.readKeyValues('enriched-left'), [['u2', '?:1']]);
});

test('table–table joins with deletes emit updates and tombstones', (t) => {
  const b = new StreamsBuilder();
  const left = b.table<string, string>('L');
  const right = b.table<string, string>('R');
  left.join(right, (l, r) => `${l}+${r}`).toStream().to('inner');
  left.leftJoin(right, (l, r) => `${l}+${r ?? 'null'}`).toStream().to('left');
  left.outerJoin(right, (l, r) => `${l ?? 'null'}+${r ?? 'null'}`).toStream().to('outer');
  const d = new TopologyTestDriver(b.build());
  d.pipe('L', 'k', 'a');
  d.pipe('R', 'k', 'x');
  d.pipe('L', 'k', 'b');
  d.pipe('R', 'k', null);
  d.pipe('L', 'k', null);
  t.deepEqual(d.readKeyValues('inner'), [['k', 'a+x'], ['k', 'b+x'], ['k', null]]);
  t.deepEqual(d.readKeyValues('left'), [['k', 'a+null'], ['k', 'a+x'], ['k', 'b+x'], ['k', 'b+null'], ['k', null]]);
  t.deepEqual(d.readKeyValues('outer'), [['k', 'a+null'], ['k', 'a+x'], ['k', 'b+x'], ['k', 'b+null'], ['k', null]]);
});

test('table groupBy aggregate subtracts the old row when a row moves group or is deleted', (t) => {
  const b = new StreamsBuilder();
  b.table<string, { region: string; amount: number }>('accounts')
    .groupBy((_id, a) => [a.region, a.amount])
    .aggregate(() => 0, (_k, v, agg) => agg + v, (_k, v, agg) => agg - v, { storeName: 'by-region' })
    .toStream().to('totals');
  const d = new TopologyTestDriver(b.build());
  d.pipe('accounts', 'a1', { region: 'eu', amount: 10 });
  d.pipe('accounts', 'a2', { region: 'eu', amount: 5 });
  d.pipe('accounts', 'a1', { region: 'us', amount: 10 });
  d.pipe('accounts', 'a2', null);
  const store = d.getStore<KeyValueStore<string, number>>('by-region');
  t.is(store.get('eu'), 0);
  t.is(store.get('us'), 10);
  t.deepEqual(d.readKeyValues('totals'), [['eu', 10], ['eu', 15], ['eu', 5], ['us', 10], ['eu', 0]]);
});

test('split routes to the first matching branch; merge and peek keep records', (t) => {
  const b = new StreamsBuilder();
  const branches = b.stream<string, number>('n').split({ name: 'sign-' })
    .branch((_k, v) => v < 0, 'neg').branch((_k, v) => v === 0, 'zero').defaultBranch('pos');
  branches.get('sign-neg')!.mapValues((v) => -v).merge(branches.get('sign-pos')!).to('abs');
  const seen: number[] = [];
  branches.get('sign-zero')!.peek((_k, v) => seen.push(v)).to('zeros');
  const d = new TopologyTestDriver(b.build());
  d.pipeAll('n', [['a', -2], ['b', 0], ['c', 3]]);
  t.deepEqual(d.readKeyValues('abs'), [['a', 2], ['c', 3]]);
  t.deepEqual(d.readKeyValues('zeros'), [['b', 0]]);
  t.deepEqual(seen, [0]);
});

test('a processing failure goes to the dead-letter topic with its origin and the stream goes on', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, number>('in').mapValues((v) => { if (v < 0) throw new RangeError(`negative: ${v}`); return v * 2; }).to('out');
  const d = new TopologyTestDriver(b.build(), { errors: { processing: 'dead-letter' } });
  d.pipeAll('in', [['a', 1], ['b', -1], ['c', 2]]);
  t.deepEqual(d.readKeyValues('out'), [['a', 2], ['c', 4]]);
  const [dead] = d.readOutput('test-driver-dlq');
  t.truthy(dead);
  t.regex(dead!.headers['dlq.reason']!.toString(), /negative: -1/);
  t.is(dead!.headers['dlq.source.topic']!.toString(), 'in');
  t.is(dead!.headers['dlq.source.offset']!.toString(), '1');
  t.is(dead!.headers['dlq.error']!.toString(), 'RangeError');
});

test('the default policy fails with a typed error naming topic, offset and key', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, number>('in').mapValues(() => { throw new Error('boom'); }).to('out');
  const d = new TopologyTestDriver(b.build());
  const err = t.throws(() => d.pipe('in', 'k1', 1));
  t.regex(err!.message, /boom.*topic in, partition 0, offset 0, key "k1"/);
  t.is(err!.name, 'ProcessingFailure');
});

test('the test driver takes an internal topic by its declared name as well as its real one', (t) => {
  const builder = new StreamsBuilder();
  builder.stream<string, number>('numbers').repartition({ name: 'by-key' }).mapValues((n) => n * 10).to('tens');
  const driver = new TopologyTestDriver(builder.build(), { applicationId: 'app' });
  driver.pipe('by-key-repartition', 'a', 1);
  driver.pipe('app-by-key-repartition', 'b', 2);
  t.deepEqual(driver.readKeyValues('tens'), [['a', 10], ['b', 20]]);
  driver.close();
});
