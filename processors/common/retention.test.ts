import test from 'ava';
import type { KeyValueStore } from '../engine/index.ts';
import { DEFAULT_ORDER_RETENTION_MS, ExpiryIndex, expiryIndexStore, retentionFromEnv, retentionSettings, timeKey } from './retention.ts';

function index(): { index: ExpiryIndex; store: KeyValueStore<string, string>; ranges: () => number } {
  const store = expiryIndexStore('t').build();
  store.init({ applicationId: 'a', taskId: '0_0', partition: 0, stateDir: '/tmp', log: () => {}, streamTime: () => 0 });
  let ranges = 0;
  const range = store.range.bind(store);
  store.range = (from, to) => { ranges++; return range(from, to); };
  return { index: new ExpiryIndex(store), store, ranges: () => ranges };
}

test('due entries come oldest first, at most `limit` at a time, the backlog read once', (t) => {
  const { index: i, store, ranges } = index();
  i.add(300, 'c');
  i.add(100, 'a');
  i.add(200, 'b', 'payload-b');
  i.add(900, 'late');
  const first = i.due(500, 2);
  t.deepEqual(first.map((d) => [d.due, d.payload]), [[100, 'a'], [200, 'payload-b']]);
  for (const d of first) i.remove(d.key);
  t.deepEqual(i.due(500, 2).map((d) => d.payload), ['c']);
  t.is(ranges(), 1, 'the second slice came from the backlog already read');
  store.delete(`${timeKey(300)}/c`);
  t.deepEqual(i.due(500, 2), [], 'an entry gone meanwhile is skipped');
  t.deepEqual(i.due(1000, 5).map((d) => d.payload), ['late']);
});

test('the watermark only rises and is never due', (t) => {
  const { index: i } = index();
  t.is(i.watermark(), -Infinity);
  t.false(i.isLate(0));
  i.raise(50);
  i.raise(20);
  t.is(i.watermark(), 50);
  t.true(i.isLate(50));
  t.false(i.isLate(51));
  t.deepEqual(i.due(Number.MAX_SAFE_INTEGER, 10), []);
});

test('ORDER_RETENTION_MS: 7 days by default, 0 disables, negative or not a number is an error', (t) => {
  t.is(retentionFromEnv({}).retentionMs, DEFAULT_ORDER_RETENTION_MS);
  t.is(DEFAULT_ORDER_RETENTION_MS, 604_800_000);
  t.deepEqual(retentionSettings(retentionFromEnv({ ORDER_RETENTION_MS: '0' })), { enabled: false, retentionMs: 0, tickMs: 1, maxPerPunctuation: 1000 });
  t.like(retentionSettings(retentionFromEnv({ ORDER_RETENTION_MS: '250' })), { enabled: true, retentionMs: 250, tickMs: 250 });
  t.like(retentionSettings(undefined), { enabled: true, tickMs: 1000 });
  t.throws(() => retentionFromEnv({ ORDER_RETENTION_MS: '-1' }), { message: /ORDER_RETENTION_MS/ });
  t.throws(() => retentionFromEnv({ ORDER_RETENTION_MS: 'week' }), { message: /ORDER_RETENTION_MS/ });
});
