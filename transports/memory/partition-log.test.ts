import test from 'ava';
import { PartitionLog, type LogPolicy } from './partition-log.ts';

const forever: LogPolicy = { compacted: false, retentionMs: Infinity, deleteRetentionMs: Infinity, minCleanableRecords: 1 };

function clocked(policy: Partial<LogPolicy>) {
  let now = 1_000_000;
  const log = new PartitionLog({ ...forever, ...policy }, () => now);
  const put = (key: string | null, value: string | null) => log.append({
    topic: 't', partition: 0, key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), headers: {}, timestamp: 0,
  });
  return { log, put, advance: (ms: number) => { now += ms; } };
}
const entries = (log: PartitionLog) => log.all().map((r) => `${r.offset}:${r.key?.toString() ?? '-'}=${r.value?.toString() ?? 'null'}`);

test('offsets ascend from 0 and reads start at the first offset at or after the one asked', (t) => {
  const { log, put } = clocked({});
  t.deepEqual([put('a', '1'), put('b', '2'), put('c', '3')], [0, 1, 2]);
  t.is(log.endOffset, 3);
  t.deepEqual(log.read(1, 10).map((r) => r.offset), [1, 2]);
  t.deepEqual(log.read(1, 1).map((r) => r.offset), [1]);
  t.deepEqual(log.read(3, 10), []);
});

test('a compacted log keeps the latest record per key at its own offset, and null keys', (t) => {
  const { log, put } = clocked({ compacted: true, minCleanableRecords: 1_000 });
  put('a', '1'); put('b', '1'); put(null, 'x'); put('a', '2'); put('b', '2'); put('a', '3');
  log.clean();
  t.deepEqual(entries(log), ['2:-=x', '4:b=2', '5:a=3']);
  t.is(log.bytes, 1 + 1 + 1 + 1 + 1, 'bytes held: key and value of what is kept');
  t.is(log.endOffset, 6, 'the end does not move');
  t.deepEqual(log.read(0, 10).map((r) => r.offset), [2, 4, 5], 'a reader behind the cleaned head starts at the first kept');
  t.deepEqual(log.read(3, 10).map((r) => r.offset), [4, 5]);
});

test('tombstones outlive their values for deleteRetentionMs, then go', (t) => {
  const { log, put, advance } = clocked({ compacted: true, deleteRetentionMs: 60_000, minCleanableRecords: 1_000 });
  put('a', '1'); put('b', '1'); put('a', null);
  log.clean();
  t.deepEqual(entries(log), ['1:b=1', '2:a=null']);
  advance(60_000);
  log.clean();
  t.deepEqual(entries(log), ['1:b=1']);
});

test('a compacted log written forever over a bounded key set stays bounded', (t) => {
  const { log, put } = clocked({ compacted: true, minCleanableRecords: 100 });
  let most = 0;
  for (let i = 0; i < 100_000; i++) {
    put(`k${i % 500}`, String(i));
    most = Math.max(most, log.size);
  }
  t.true(most <= 2 * 500 + 1, `held at most ${most} records for 500 keys`);
  t.is(log.endOffset, 100_000);
  const last = new Map(log.all().map((r) => [r.key!.toString(), r.value!.toString()]));
  t.is(last.get('k499'), '99999');
  t.is(last.get('k0'), '99500');
});

test('a non-compacted log drops from its head what was appended longer ago than its retention', (t) => {
  const { log, put, advance } = clocked({ retentionMs: 10_000 });
  put('a', '1'); put('a', '2');
  advance(5_000);
  put('a', '3');
  advance(6_000);
  put('a', '4');
  t.deepEqual(entries(log), ['2:a=3', '3:a=4']);
  t.is(log.startOffset, 2);
  t.deepEqual(log.read(0, 10).map((r) => r.offset), [2, 3]);
  advance(20_000);
  log.expire();
  t.is(log.size, 0);
  t.is(log.bytes, 0);
  t.is(log.startOffset, 4, 'an empty log starts at its end');
});

test('retention counts from appending, not from the record timestamp (event time may be long past)', (t) => {
  const { log, put } = clocked({ retentionMs: 10_000 });
  for (let i = 0; i < 5; i++) put('a', String(i));
  t.is(log.size, 5, 'timestamp 0 is not expired');
});
