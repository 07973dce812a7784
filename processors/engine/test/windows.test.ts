import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Serdes, SessionWindows, SlidingWindows, StreamsBuilder, TimeWindows, TopologyTestDriver, WindowedSerdes,
  droppedLateRecords, sessionStore, windowStore,
  type SessionStore, type WindowStore, type Windowed,
} from '../index.ts';
import type { StoreContext } from '../stores/store.ts';
import { internals } from '../internals.ts';

/** `key@start-end` for readable assertions on windowed keys. */
const w = (k: Windowed<string>) => `${k.key}@${k.window.start}-${k.window.end}`;

function windowedOutput<V>(d: TopologyTestDriver, topic: string): [string, V | null][] {
  return d.readKeyValues<Windowed<string>, V | null>(topic).map(([k, v]) => [w(k), v]);
}

function storeContext(stateDir: string, streamTime = () => -1): StoreContext {
  return { applicationId: 'app', taskId: '0_0', partition: 0, stateDir, log: () => {}, streamTime };
}

test('tumbling windows count per key and window, accept records within grace and drop later ones', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(10, 5))
    .count({ storeName: 'counts' })
    .toStream().to('out');
  const topology = b.build();
  const d = new TopologyTestDriver(topology);
  d.pipe('in', 'a', 'x', { timestamp: 1 });
  d.pipe('in', 'a', 'x', { timestamp: 5 });
  d.pipe('in', 'a', 'x', { timestamp: 12 });
  d.pipe('in', 'a', 'x', { timestamp: 8 }); // stream time 12: [0,10) closes at 10 + 5
  d.pipe('in', 'a', 'x', { timestamp: 16 });
  d.pipe('in', 'a', 'x', { timestamp: 9 }); // stream time 16 ≥ 15: late
  d.pipe('in', 'b', 'x', { timestamp: 15 });
  const out = d.readOutput<Windowed<string>, number>('out');
  t.deepEqual(out.map((r) => [w(r.key), r.value]), [
    ['a@0-10', 1], ['a@0-10', 2], ['a@10-20', 1], ['a@0-10', 3], ['a@10-20', 2], ['b@10-20', 1],
  ]);
  t.deepEqual(out.map((r) => r.timestamp), [1, 5, 12, 8, 16, 15], 'a window result carries its latest record time');
  t.is([...droppedLateRecords(topology).values()].reduce((a, n) => a + n, 0), 1);
  const store = d.getStore<WindowStore<string, number>>('counts');
  t.is(store.get('a', 0), undefined, 'retention is size + grace: [0,10) expired at stream time 16');
  t.is(store.get('a', 10), 2);
  t.deepEqual(store.fetch('a', 0, 100).map((e) => [e.windowStart, e.value]), [[10, 2]]);
  d.close();
});

test('hopping windows: a record counts in every window it falls in; a window closed for it is skipped', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(10).advanceBy(5))
    .count()
    .toStream().to('out');
  const topology = b.build();
  const d = new TopologyTestDriver(topology);
  d.pipe('in', 'a', 'x', { timestamp: 7 });
  d.pipe('in', 'a', 'x', { timestamp: 12 });
  d.pipe('in', 'a', 'x', { timestamp: 9 }); // [0,10) closed at stream time 12, [5,15) open
  t.deepEqual(windowedOutput<number>(d, 'out'), [
    ['a@0-10', 1], ['a@5-15', 1], ['a@5-15', 2], ['a@10-20', 1], ['a@5-15', 3],
  ]);
  t.is([...droppedLateRecords(topology).values()][0], 1);
  d.close();
});

test('windowed reduce and aggregate keep per-window state', (t) => {
  const b = new StreamsBuilder();
  const grouped = b.stream<string, number>('in').groupByKey();
  grouped.windowedBy(TimeWindows.ofSizeWithNoGrace(10)).reduce((a, v) => Math.max(a, v)).toStream().to('max');
  grouped.windowedBy(TimeWindows.ofSizeWithNoGrace(10)).aggregate(() => [] as number[], (_k, v, agg) => [...agg, v]).toStream().to('all');
  const d = new TopologyTestDriver(b.build());
  d.pipeAll('in', [['a', 3, 1], ['a', 1, 2], ['a', 7, 3], ['a', 2, 11]]);
  t.deepEqual(windowedOutput<number>(d, 'max'), [['a@0-10', 3], ['a@0-10', 3], ['a@0-10', 7], ['a@10-20', 2]]);
  t.deepEqual(windowedOutput<number[]>(d, 'all').at(-2), ['a@0-10', [3, 1, 7]]);
  d.close();
});

test('sliding windows: one window per record end and per record start, built from neighbours, out of order within grace', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, 20))
    .count({ storeName: 'sliding' })
    .toStream().to('out');
  const topology = b.build();
  const d = new TopologyTestDriver(topology);
  d.pipe('in', 'a', 'x', { timestamp: 20 });
  t.deepEqual(windowedOutput<number>(d, 'out'), [['a@10-20', 1]]);
  d.pipe('in', 'a', 'x', { timestamp: 25 });
  t.deepEqual(windowedOutput<number>(d, 'out'), [['a@21-31', 1], ['a@15-25', 2]]);
  d.pipe('in', 'a', 'x', { timestamp: 40 });
  t.deepEqual(windowedOutput<number>(d, 'out'), [['a@30-40', 1]]);
  d.pipe('in', 'a', 'x', { timestamp: 22 });
  t.deepEqual(windowedOutput<number>(d, 'out'), [['a@21-31', 2], ['a@15-25', 3], ['a@12-22', 2], ['a@23-33', 1]]);
  d.pipe('in', 'a', 'x', { timestamp: 5 }); // its last window [5,15] closed at 15 + 20 < 40
  t.deepEqual(windowedOutput<number>(d, 'out'), []);
  t.is([...droppedLateRecords(topology).values()][0], 1);
  // Every window holds exactly the records in [start, start + 10]: {20, 22, 25, 40}.
  const store = d.getStore<WindowStore<string, number>>('sliding');
  t.deepEqual(store.fetch('a', 0, 100).map((e) => [e.windowStart, e.value]), [[10, 1], [12, 2], [15, 3], [21, 2], [23, 1], [30, 1]]);
  d.close();
});

test('sliding windows: records earlier than the time difference share the window [0, d]', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(10))
    .count({ storeName: 'sliding' })
    .toStream().to('out');
  const d = new TopologyTestDriver(b.build());
  d.pipe('in', 'a', 'x', { timestamp: 3 });
  d.pipe('in', 'a', 'x', { timestamp: 6 });
  d.pipe('in', 'a', 'x', { timestamp: 14 });
  // {3, 6, 14}: [0,10] has 3 and 6; right of 3: [4,14] has 6, 14; right of 6: [7,17] has 14; left of 14: [4,14].
  const store = d.getStore<WindowStore<string, number>>('sliding');
  t.deepEqual(store.fetch('a', 0, 100).map((e) => [e.windowStart, e.value]), [[0, 2], [4, 2], [7, 1]]);
  d.close();
});

test('session windows merge when a record bridges them: merged sessions are retracted with tombstones', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 5))
    .count({ storeName: 'sessions' })
    .toStream().to('out');
  const topology = b.build();
  const d = new TopologyTestDriver(topology);
  for (const ts of [0, 5, 30, 18, 12, 40, 3]) d.pipe('in', 'a', 'x', { timestamp: ts });
  t.deepEqual(windowedOutput<number>(d, 'out'), [
    ['a@0-0', 1],
    ['a@0-0', null], ['a@0-5', 2],
    ['a@30-30', 1],
    ['a@18-18', 1], // within grace: its session end 18 ≥ 30 − 10 − 5
    // [0,5] closed at 5 + 10 + 5 and has expired: 12 merges only with [18,18].
    ['a@18-18', null], ['a@12-18', 2],
    ['a@30-30', null], ['a@30-40', 2],
  ]);
  t.is([...droppedLateRecords(topology).values()][0], 1, 'the record at 3 makes a session [3,3] that ended before 40 − 15');
  const store = d.getStore<SessionStore<string, number>>('sessions');
  t.deepEqual(store.fetch('a').map((s) => [`${s.key.window.start}-${s.key.window.end}`, s.value]), [['30-40', 2]], '[12,18] closed at 18 + 10 + 5 and expired');
  t.deepEqual(store.findSessions('a', 19, 35).map((s) => s.key.window.start), [30]);
  d.close();
});

test('session reduce and aggregate merge aggregates with the merger', (t) => {
  const b = new StreamsBuilder();
  const grouped = b.stream<string, string>('in').groupByKey();
  grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 20)).reduce((a, v) => a + v).toStream().to('concat');
  grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 20))
    .aggregate(() => '', (_k, v, agg) => agg + v, (_k, a, c) => `${a}|${c}`).toStream().to('merged');
  const d = new TopologyTestDriver(b.build());
  d.pipeAll('in', [['k', 'a', 0], ['k', 'b', 20], ['k', 'c', 10]]);
  t.deepEqual(windowedOutput<string>(d, 'concat').filter(([, v]) => v !== null).at(-1), ['k@0-20', 'abc']);
  t.deepEqual(windowedOutput<string>(d, 'merged').filter(([, v]) => v !== null).at(-1), ['k@0-20', '|a|bc']);
  d.close();
});

test('windowed serdes write Kafka Streams bytes: key + start, or key + end + start', async (t) => {
  const time = WindowedSerdes.timeWindowed(Serdes.string(), 10);
  const bytes = await time.serialize('t', { key: 'k', window: { start: 20, end: 30 } });
  t.deepEqual(bytes, Buffer.concat([Buffer.from('k'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 20])]));
  t.deepEqual(await time.deserialize('t', bytes), { key: 'k', window: { start: 20, end: 30 } });
  const session = WindowedSerdes.sessionWindowed(Serdes.string());
  const sb = await session.serialize('t', { key: 'k', window: { start: 5, end: 9 } });
  t.deepEqual(sb, Buffer.concat([Buffer.from('k'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 9]), Buffer.from([0, 0, 0, 0, 0, 0, 0, 5])]));
  t.deepEqual(await session.deserialize('t', sb), { key: 'k', window: { start: 5, end: 9 } });
  // A windowed table's stream writes its keys with the windowed serde of its key serde.
  const b = new StreamsBuilder();
  b.stream<string, string>('in', { keySerde: Serdes.string() }).groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(10)).count().toStream().to('out', { name: 'sink' });
  const sink = internals(b.build()).nodes.get('sink');
  t.is(sink?.kind, 'sink');
  if (sink?.kind === 'sink') t.deepEqual(await sink.keySerde.serialize('out', { key: 'k', window: { start: 20, end: 30 } }), bytes);
  t.deepEqual(session.decode!(session.encode!({ key: 'k', window: { start: 5, end: 9 } })), { key: 'k', window: { start: 5, end: 9 } });
});

test('a window store restored from its changelog holds the same windows, expired ones included as gone', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, number>('in').groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(10, 5).advanceBy(5))
    .aggregate(() => 0, (_k, v, agg) => agg + v, { storeName: 'sums' });
  const d = new TopologyTestDriver(b.build());
  d.pipeAll('in', [['a', 1, 1], ['b', 2, 3], ['a', 3, 12], ['a', 4, 8], ['c', 5, 31], ['b', 6, 33], ['a', 7, 29]]);
  const original = d.getStore<WindowStore<string, number>>('sums');
  const live = original.all();
  t.true(live.length > 0);
  t.false(live.some((e) => e.key.window.end + 5 <= 12 && e.key.key === 'a'), 'windows closed long ago are gone');
  for (const persistent of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'window-restore-'));
    const restored = windowStore<string, number>('sums', { windowSizeMs: 10, retentionMs: 15, persistent }).build();
    restored.init(storeContext(dir));
    for (const e of d.changelog('sums')) restored.restore(e.key, e.value);
    t.deepEqual(restored.all(), live, persistent ? 'LMDB' : 'memory');
    t.deepEqual(restored.fetch('a', 0, 100), original.fetch('a', 0, 100));
    restored.close();
  }
  d.close();
});

test('a session store restored from its changelog holds the same sessions', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 5))
    .count({ storeName: 'sessions' });
  const d = new TopologyTestDriver(b.build());
  d.pipeAll('in', [['a', 'x', 0], ['a', 'x', 5], ['b', 'x', 7], ['a', 'x', 30], ['a', 'x', 18], ['a', 'x', 12], ['b', 'x', 60]]);
  const original = d.getStore<SessionStore<string, number>>('sessions');
  for (const persistent of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'session-restore-'));
    const restored = sessionStore<string, number>('sessions', { retentionMs: 15, valueCodec: Serdes.long(), persistent }).build();
    restored.init(storeContext(dir));
    for (const e of d.changelog('sessions')) restored.restore(e.key, e.value);
    t.deepEqual(restored.all(), original.all(), persistent ? 'LMDB' : 'memory');
    restored.close();
  }
  t.deepEqual(original.all().map((s) => `${s.key.key}@${s.key.window.start}-${s.key.window.end}=${s.value}`), ['b@60-60=1'], 'sessions of a ended before 60 − 15');
  d.close();
});

test('window store with duplicates keeps every put; fetch bounds are inclusive and per key', (t) => {
  const store = windowStore<string, string>('dups', { windowSizeMs: 0, retentionMs: 100, retainDuplicates: true }).build();
  const logged: [Buffer, Buffer | null][] = [];
  store.init({ ...storeContext('/tmp'), log: (k, v) => logged.push([k, v]) });
  store.put('k', 'a', 10);
  store.put('k', 'b', 10);
  store.put('k', 'c', 20);
  store.put('kk', 'd', 15);
  t.deepEqual(store.fetch('k', 10, 20).map((e) => e.value), ['a', 'b', 'c']);
  t.deepEqual(store.fetch('k', 11, 19).map((e) => e.value), []);
  t.deepEqual(store.fetchAll(0, 100).map((e) => `${e.key.key}:${e.value}`), ['k:a', 'k:b', 'kk:d', 'k:c']);
  t.is(logged.length, 4);
  store.put('k', 'late', 20 - 100);
  t.is(store.fetch('k', -1000, 1000).length, 3, 'a put older than retention is ignored');
});
