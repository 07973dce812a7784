import test from 'ava';
import {
  BufferConfig, SessionWindows, SlidingWindows, StreamsBuilder, Suppressed, TimeWindows, TopologyError, TopologyTestDriver,
  type Topology, type Windowed,
} from '../index.ts';

const w = (k: Windowed<string>) => `${k.key}@${k.window.start}-${k.window.end}`;

function finals(d: TopologyTestDriver, topic = 'final'): [string, number | null][] {
  return d.readKeyValues<Windowed<string>, number | null>(topic).map(([k, v]) => [w(k), v]);
}

/** Tumbling counts (size 10, grace 5), final results only. */
function tumblingFinal(): Topology {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(10, 5))
    .count({ storeName: 'counts' })
    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()), { name: 'final' })
    .toStream().to('final');
  return b.build();
}

test('untilWindowCloses emits one final result per window once stream time passes end + grace, nothing before', (t) => {
  const d = new TopologyTestDriver(tumblingFinal());
  d.pipe('in', 'a', 'x', { timestamp: 1 });
  d.pipe('in', 'a', 'x', { timestamp: 5 });
  d.pipe('in', 'b', 'x', { timestamp: 7 });
  d.pipe('in', 'a', 'x', { timestamp: 12 });
  d.pipe('in', 'a', 'x', { timestamp: 8 }); // within grace: counts in [0,10)
  d.pipe('in', 'a', 'x', { timestamp: 14 }); // stream time 14 < 10 + 5
  t.deepEqual(finals(d), [], 'no window has closed yet');
  d.pipe('in', 'a', 'x', { timestamp: 15 });
  const out = d.readOutput<Windowed<string>, number>('final');
  t.deepEqual(out.map((r) => [w(r.key), r.value]), [['a@0-10', 3], ['b@0-10', 1]]);
  t.deepEqual(out.map((r) => r.timestamp), [8, 7], 'each result keeps the time of its window\'s latest record');
  d.pipe('in', 'a', 'x', { timestamp: 9 }); // late: dropped, and [0,10) is not emitted again
  d.pipe('in', 'a', 'x', { timestamp: 24 });
  t.deepEqual(finals(d), []);
  d.pipe('in', 'a', 'x', { timestamp: 25 });
  t.deepEqual(finals(d), [['a@10-20', 3]], '12, 14 and 15');
  d.close();
});

test('suppressed results survive a restart: a task restored from the changelogs emits each pending window once', (t) => {
  const first = new TopologyTestDriver(tumblingFinal());
  first.pipe('in', 'a', 'x', { timestamp: 1 });
  first.pipe('in', 'a', 'x', { timestamp: 5 });
  first.pipe('in', 'b', 'x', { timestamp: 7 });
  first.pipe('in', 'a', 'x', { timestamp: 12 });
  t.deepEqual(finals(first), []);
  const logs = { counts: first.changelog('counts'), buffer: first.changelog('final-STATE-STORE') };
  t.true(logs.buffer.length > 0, 'the buffer is logged');
  first.close();

  const second = new TopologyTestDriver(tumblingFinal());
  for (const e of logs.counts) second.getStore('counts').restore(e.key, e.value);
  for (const e of logs.buffer) second.getStore('final-STATE-STORE').restore(e.key, e.value);
  second.pipe('in', 'a', 'x', { timestamp: 16 });
  t.deepEqual(finals(second), [['a@0-10', 2], ['b@0-10', 1]]);
  second.pipe('in', 'c', 'x', { timestamp: 40 });
  t.deepEqual(finals(second), [['a@10-20', 2]], 'the restored count of [10,20) went on from 1');
  second.close();
});

test('untilWindowCloses on sessions: merged-away sessions are not emitted, the merged one is, after gap + grace', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 2))
    .count()
    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
    .toStream().to('final');
  const d = new TopologyTestDriver(b.build());
  d.pipe('in', 'a', 'x', { timestamp: 0 });
  d.pipe('in', 'a', 'x', { timestamp: 5 });
  d.pipe('in', 'b', 'x', { timestamp: 17 }); // [0,5] can still grow until 5 + 10 + 2
  t.deepEqual(finals(d), []);
  d.pipe('in', 'b', 'x', { timestamp: 18 });
  t.deepEqual(finals(d), [['a@0-5', 2]], '[0,0] was merged into [0,5]: its tombstone is dropped, not emitted');
  d.close();
});

test('untilWindowCloses on sliding windows emits each window after its inclusive end + grace', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(10))
    .count()
    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
    .toStream().to('final');
  const d = new TopologyTestDriver(b.build());
  d.pipe('in', 'a', 'x', { timestamp: 20 });
  t.deepEqual(finals(d), [], 'a record at 20 may still join [10,20]');
  d.pipe('in', 'a', 'x', { timestamp: 25 });
  t.deepEqual(finals(d), [['a@10-20', 1]]);
  d.pipe('in', 'a', 'x', { timestamp: 40 });
  t.deepEqual(finals(d), [['a@15-25', 2], ['a@21-31', 1]]);
  d.close();
});

test('untilTimeLimit emits the latest value of a key once the limit has passed since its first buffered update', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey().count()
    .suppress(Suppressed.untilTimeLimit(10, BufferConfig.unbounded()))
    .toStream().to('limited');
  const d = new TopologyTestDriver(b.build());
  d.pipeAll('in', [['a', 'x', 0], ['a', 'x', 3], ['b', 'x', 5]]);
  t.deepEqual(d.readKeyValues('limited'), []);
  d.pipe('in', 'a', 'x', { timestamp: 10 });
  t.deepEqual(d.readKeyValues('limited'), [['a', 3]]);
  d.pipe('in', 'b', 'x', { timestamp: 15 });
  t.deepEqual(d.readKeyValues('limited'), [['b', 2]]);
  d.close();
});

test('a bounded buffer emits early when full, or refuses final results', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey().count()
    .suppress(Suppressed.untilTimeLimit(100, BufferConfig.maxRecords(1)))
    .toStream().to('limited');
  const d = new TopologyTestDriver(b.build());
  d.pipe('in', 'a', 'x', { timestamp: 0 });
  d.pipe('in', 'b', 'x', { timestamp: 1 });
  t.deepEqual(d.readKeyValues('limited'), [['a', 1]]);
  d.close();
  t.throws(() => Suppressed.untilWindowCloses(BufferConfig.maxRecords(5)), { instanceOf: TopologyError });
  const nb = new StreamsBuilder();
  const table = nb.stream<string, string>('in').groupByKey().count();
  t.throws(() => table.suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded())), { instanceOf: TopologyError }, 'needs a windowed aggregation upstream');
});
