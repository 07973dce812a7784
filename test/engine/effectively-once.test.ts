/**
 * Effectively-once without transactions, made to fail at its worst moment: outputs and changelog
 * entries of a commit unit are sent, then the checkpoint write fails (a crash). The restarted
 * application must ignore that unit's changelog entries, resume from the last checkpoint, and
 * re-send the same outputs with the same origins, which a reader drops.
 */
import test from 'ava';
import { Deduplicator, Serdes, StreamsApp, StreamsBuilder, keyValueStore, type KeyValueStore, type Serde } from '../../processors/engine/index.ts';
import { MemoryBroker, type ConsumedRecord } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';
import { rabbitLike } from './rabbit-like.ts';

function topology() {
  const b = new StreamsBuilder();
  b.stream<string, number>('in').groupByKey().count({ storeName: 'n' }).toStream().to('out', { valueSerde: Serdes.long() as Serde<number | null> });
  return b.build();
}

test('a crash between outputs and checkpoint: the unit is ignored on restore, re-sent copies are dropped by origin', async (t) => {
  const broker = new MemoryBroker();
  const fail = { armed: false };
  const transport = rabbitLike(broker, { failCheckpoints: fail });
  await transport.admin().createTopics([{ name: 'in', partitions: 1, kind: 'replayable' }, { name: 'out', partitions: 1, kind: 'replayable' }]);
  const producer = transport.producer();
  await producer.connect();
  const send = (n: number, from: number) => producer.send(Array.from({ length: n }, (_, i) => ({ topic: 'in', key: Buffer.from(JSON.stringify(`k${(from + i) % 2}`)), value: Buffer.from('1') })));
  const config = { applicationId: 'eo', transport, guarantee: 'exactly_once' as const, commitIntervalMs: 10_000, idleCommitMs: 0, logger: () => {} };

  const first = new StreamsApp(topology(), config);
  await first.start();
  await send(4, 0);
  await waitUntil(() => first.recordsProcessed() === 4, 'four records');
  await first.close(); // a clean commit: checkpoint at offset 4
  const second = new StreamsApp(topology(), config);
  await second.start();
  await send(4, 4);
  await waitUntil(() => second.recordsProcessed() === 4, 'four more records');
  fail.armed = true;
  await second.close(); // its final commit sends the outputs, then dies before the checkpoint
  t.false(fail.armed as boolean, 'the checkpoint write was attempted and failed');

  const third = new StreamsApp(topology(), config);
  await third.start();
  t.teardown(() => third.close());
  await waitUntil(() => third.recordsProcessed() === 4, 'the four unchecked records processed again');

  const raw: ConsumedRecord[] = [];
  const reader = transport.consumer({ groupId: 'reader', topics: ['out'] });
  await reader.connect();
  await reader.run(async (batch) => { raw.push(...batch.records); });
  t.teardown(() => reader.disconnect());
  await waitUntil(() => raw.length >= 12, 'outputs, with the re-sent copies');
  const dedup = new Deduplicator();
  const kept = raw.filter((r) => dedup.admit(r));
  t.is(raw.length, 12, 'the crashed unit was sent, then sent again');
  t.is(dedup.duplicates, 4);
  const perKey: Record<string, number[]> = {};
  for (const r of kept) (perKey[JSON.parse(r.key!.toString()) as string] ??= []).push(Serdes.long().decode(r.value!));
  t.deepEqual(perKey, { k0: [1, 2, 3, 4], k1: [1, 2, 3, 4] }, 'counts run 1..n once after dedup');
  const restored: Record<string, number> = {};
  for (const s of third.stores<KeyValueStore<string, number>>('n')) for (const { key, value } of s.all()) restored[key] = value;
  t.deepEqual(restored, { k0: 4, k1: 4 }, 'the crashed unit was not applied twice');
});

test('a failed commit the application recovers from in place ends its epoch: after a restart its changelog entries stay unapplied', async (t) => {
  // Each attempt at a record writes a key of its own, so entries of the failed attempt differ
  // from those of the retry and would show if a restore applied them.
  let attempt = 0;
  const b = new StreamsBuilder();
  b.addStateStore(keyValueStore<string, number>('attempts', { keyCodec: Serdes.string(), valueCodec: Serdes.long() }));
  b.stream<string, number>('in').process(() => {
    let store: KeyValueStore<string, number>;
    return { init: (c) => { store = c.getStateStore('attempts'); }, process: (r) => { store.put(`${r.key}#${attempt++}`, 1); } };
  }, { name: 'attempt', stores: ['attempts'] });
  const broker = new MemoryBroker();
  const fail = { armed: false, retriable: true };
  const transport = rabbitLike(broker, { failCheckpoints: fail });
  await transport.admin().createTopics([{ name: 'in', partitions: 1, kind: 'replayable' }]);
  const producer = transport.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const send = (n: number, from: number) => producer.send(Array.from({ length: n }, (_, i) => ({ topic: 'in', key: Buffer.from(JSON.stringify(`k${from + i}`)), value: Buffer.from('1') })));
  const config = { applicationId: 'eo-epoch', transport, guarantee: 'exactly_once' as const, retryBackoffMs: 5, logger: () => {} };
  const keys = (app: StreamsApp) => [...app.stores<KeyValueStore<string, number>>('attempts')].flatMap((s) => [...s.all()].map((e) => e.key)).sort();

  const first = new StreamsApp(b.build(), config);
  await first.start();
  await send(4, 0);
  const checkpoints = () => broker.topics.get('eo-epoch-0-checkpoints')!.logs[0]!.endOffset;
  const before = checkpoints();
  await waitUntil(() => first.recordsProcessed() === 4 && checkpoints() > before, 'four records committed');
  fail.armed = true;
  await send(4, 4);
  // The commit of k4..k7 fails after its changelog entries; the tasks start again from the last
  // checkpoint and process k4..k7 once more, under new keys, and that commit lands.
  await waitUntil(() => first.recordsProcessed() === 12 && keys(first).length === 8, 'the four records processed again after the failed commit');
  t.false(fail.armed, 'the checkpoint write failed once');
  t.is(first.state, 'RUNNING', 'recovered in place');
  const held = keys(first);
  t.deepEqual(held.map((k) => k.split('#')[0]), ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
  await first.close();

  const second = new StreamsApp(b.build(), config);
  await second.start();
  t.teardown(() => second.close());
  t.deepEqual(keys(second), held, 'the failed attempt\'s entries (k4#4..k7#7) are not restored');
});
