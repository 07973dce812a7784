import test from 'ava';
import { BATCH_OVERHEAD, kafkaRecordSize, partitionBudget, splitRequests, type Placed, type RequestLimits } from './requests.ts';

function records(spec: [topic: string, partition: number, size: number][]): Placed[] {
  return spec.map(([topic, partition, size], index) => ({
    topic, partition, index, size, record: { topic, partition, key: null, value: Buffer.alloc(size) },
  }));
}

const limits = (o: Partial<RequestLimits> = {}): RequestLimits => ({ partitionBytes: () => 1000, requestBytes: 1e9, partitionRecords: 1e9, ...o });

function check(t: import('ava').ExecutionContext, placed: Placed[], requests: Placed[][], l: RequestLimits): void {
  t.deepEqual(requests.flat().map((p) => p.index).sort((a, b) => a - b), placed.map((p) => p.index), 'every record once');
  for (const r of requests) {
    const per = new Map<string, number>();
    const count = new Map<string, number>();
    for (const p of r) {
      per.set(`${p.topic}/${p.partition}`, (per.get(`${p.topic}/${p.partition}`) ?? 0) + p.size);
      count.set(`${p.topic}/${p.partition}`, (count.get(`${p.topic}/${p.partition}`) ?? 0) + 1);
    }
    for (const n of count.values()) t.true(n <= l.partitionRecords);
    if (r.length > 1) {
      for (const [k, bytes] of per) t.true(bytes <= l.partitionBytes(k.split('/')[0]!), `${k} within its budget`);
      t.true(r.reduce((n, p) => n + p.size, 0) <= l.requestBytes);
    }
  }
  // Per partition, the order of the send: requests are sent one after another.
  const seen = new Map<string, number>();
  for (const p of requests.flat()) {
    const k = `${p.topic}/${p.partition}`;
    t.true((seen.get(k) ?? -1) < p.index, `${k} in order`);
    seen.set(k, p.index);
  }
}

test('one partition over its budget is split into requests within it, in order', (t) => {
  const placed = records(Array.from({ length: 25 }, () => ['a', 0, 100] as [string, number, number]));
  const l = limits();
  const requests = splitRequests(placed, l);
  t.is(requests.length, 3);
  t.deepEqual(requests.map((r) => r.length), [10, 10, 5]);
  check(t, placed, requests, l);
});

test('partitions fill one request side by side; a full partition leaves room for the others', (t) => {
  const placed = records([['a', 0, 600], ['a', 1, 600], ['a', 0, 600], ['b', 0, 300], ['a', 1, 300], ['b', 0, 300]]);
  const l = limits();
  const requests = splitRequests(placed, l);
  t.is(requests.length, 2);
  t.deepEqual(requests[0]!.map((p) => p.index), [0, 1, 4, 3, 5]);
  t.deepEqual(requests[1]!.map((p) => p.index), [2]);
  check(t, placed, requests, l);
});

test('records per partition and bytes per request are bounded too', (t) => {
  const placed = records(Array.from({ length: 50 }, (_, i) => ['a', i % 5, 10] as [string, number, number]));
  const byCount = splitRequests(placed, limits({ partitionRecords: 3 }));
  check(t, placed, byCount, limits({ partitionRecords: 3 }));
  t.deepEqual(byCount.map((r) => r.length), [15, 15, 15, 5], 'three of each partition per request, all partitions side by side');
  const byBytes = splitRequests(placed, limits({ requestBytes: 95 }));
  check(t, placed, byBytes, limits({ requestBytes: 95 }));
  t.is(byBytes.length, 6);
});

test('a record over every limit still goes alone, so the split always ends', (t) => {
  const placed = records([['a', 0, 10], ['a', 0, 5000], ['a', 0, 10]]);
  const requests = splitRequests(placed, limits({ requestBytes: 100 }));
  t.deepEqual(requests.map((r) => r.map((p) => p.index)), [[0], [1], [2]]);
});

test('the size bound covers the record encoding and the budget leaves the batch header out', (t) => {
  const r = { topic: 't', key: Buffer.from('k'), value: Buffer.alloc(100), headers: { h: 'vv', b: Buffer.alloc(3) } };
  t.is(kafkaRecordSize(r), 36 + 1 + 100 + (10 + 1 + 2) + (10 + 1 + 3));
  t.true(partitionBudget(1_048_588) < 1_048_588 - BATCH_OVERHEAD);
  t.is(partitionBudget(10), 0);
});
