import test from 'ava';
import type { Placed } from '../kafka/requests.ts';
import { splitByTimestamp } from './timestamps.ts';

const now = 1_800_000_000_000;
const placed = (partition: number, index: number, timestamp?: number): Placed =>
  ({ topic: 't', partition, index, size: 10, record: { topic: 't', key: null, value: null, ...(timestamp === undefined ? {} : { timestamp }) } });

test('close timestamps stay in one request', (t) => {
  const r = [placed(0, 0), placed(0, 1, now - 1000), placed(1, 2)];
  t.deepEqual(splitByTimestamp(r, now), [r]);
});

test('a timestamp far from its batch\'s first starts a new request, partition order kept', (t) => {
  const old = 1_700_000_000_123;
  const r = [placed(0, 0), placed(1, 1), placed(0, 2, old), placed(0, 3, old + 1), placed(0, 4)];
  const out = splitByTimestamp(r, now).map((req) => req.map((p) => p.index));
  t.deepEqual(out, [[0, 1], [2, 3], [4]]);
});
