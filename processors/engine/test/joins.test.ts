import test from 'ava';
import { JoinWindows, StreamsBuilder, TopologyTestDriver, type Topology } from '../index.ts';

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
  t.true([...topology.internalTopics.values()].some((i) => i.purpose === 'repartition'));
  t.true(topology.copartitionGroups.some((g) => g.includes('payments') && g.some((x) => x.endsWith('-repartition'))));
  const d = new TopologyTestDriver(topology);
  d.pipe('orders', 'o1', { customer: 'c1', id: 'o1' }, { timestamp: 1 });
  d.pipe('payments', 'c1', 'p1', { timestamp: 3 });
  t.deepEqual(d.readKeyValues('paid'), [['c1', 'o1:p1']]);
  d.close();
});
