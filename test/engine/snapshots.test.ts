/**
 * Store snapshots where the transport does not compact (runtime/snapshots.ts), on the memory
 * broker seen as RabbitMQ (no compaction, no transactions): a restart after a long history
 * restores about what one after a short history does, with the same state a full replay gives,
 * under both guarantees; a snapshot cut short is passed over; older snapshots are deleted.
 */
import test from 'ava';
import { Serdes, StreamsApp, StreamsBuilder, type KeyValueStore, type ProcessingGuarantee } from '../../processors/engine/index.ts';
import { MemoryBroker, type Producer, type Transport } from '../../transports/index.ts';
import { appSample, restoreOf } from '../../bench/soak-probe.ts';
import { waitUntil } from '../conformance/suite.ts';
import { rabbitLike } from './rabbit-like.ts';

const KEYS = 200;
const POLICY = { minRecords: 1_000, ratio: 2 };

interface Run {
  readonly transport: Transport;
  readonly input: string;
  readonly applicationId: string;
  readonly guarantee: ProcessingGuarantee;
  /** While armed, every send to a snapshot topic after its first fails (a process that crashes while writing one). */
  readonly cutSnapshot: { armed: boolean; cuts: number };
}

function countingApp(run: Run, snapshots: typeof POLICY | false = POLICY): StreamsApp {
  const b = new StreamsBuilder();
  b.stream(run.input, { keySerde: Serdes.string(), valueSerde: Serdes.string() }).groupByKey().count({ storeName: 'counts' });
  return new StreamsApp(b.build(), {
    applicationId: run.applicationId, transport: run.transport, guarantee: run.guarantee, commitIntervalMs: 20, logger: () => {}, snapshots,
  });
}

/** The rabbit-like transport, with sends to snapshot topics that can be made to fail part-way. */
function transportOf(broker: MemoryBroker, cut: { armed: boolean; cuts: number }): Transport {
  const inner = rabbitLike(broker);
  const sentTo = new Map<string, number>();
  return Object.assign(Object.create(inner) as Transport, {
    producer: (): Producer => {
      const p = inner.producer();
      return Object.assign(Object.create(p) as Producer, {
        connect: () => p.connect(),
        disconnect: () => p.disconnect(),
        send: async (records: Parameters<Producer['send']>[0]) => {
          const snap = records.find((r) => r.topic.includes('.snapshot.'))?.topic;
          if (snap) {
            const n = (sentTo.get(snap) ?? 0) + 1;
            sentTo.set(snap, n);
            if (cut.armed && n > 1) { cut.cuts++; throw new Error('simulated crash while writing a snapshot'); }
          }
          return p.send(records);
        },
      });
    },
  });
}

/** Every task's counts, by key in key order (so that two states compare equal whatever the partitions' order). */
async function counts(app: StreamsApp): Promise<Record<string, number>> {
  const out: [string, number][] = [];
  for (const s of app.stores<KeyValueStore<string, number>>('counts')) for (const { key, value } of s.all()) out.push([key, value]);
  return Object.fromEntries(out.sort(([a], [b]) => a.localeCompare(b)));
}

async function history(run: Run, producer: Producer, from: number, to: number): Promise<void> {
  for (let sent = from; sent < to; sent += 1000) {
    await producer.send(Array.from({ length: 1000 }, (_, i) => ({ topic: run.input, key: Buffer.from(`k${(sent + i) % KEYS}`), value: Buffer.from('v') })));
  }
}

/** Runs the app over `to - from` more updates, closes it, starts it again: what the restart restored, and the counts it has. */
async function restartAfter(run: Run, producer: Producer, from: number, to: number): Promise<{ restored: number; counts: Record<string, number> }> {
  const running = countingApp(run);
  await running.start();
  await history(run, producer, from, to);
  await waitUntil(() => running.recordsProcessed() >= to - from, `the app to count ${to} updates`, 60_000);
  await running.close();
  const again = countingApp(run);
  await again.start();
  await waitUntil(() => appSample(again).tasks.length === 2, 'the restarted app to run both tasks');
  const result = { restored: restoreOf(appSample(again).tasks).restoredRecords, counts: await counts(again) };
  await again.close();
  return result;
}

/** The last checkpoint record of each partition of the (one sub-topology's) checkpoint topic. */
function latestCheckpoints(broker: MemoryBroker, applicationId: string): { task: string; units: Record<string, number> }[] {
  return broker.topics.get(`${applicationId}-0-checkpoints`)!.logs
    .map((log) => JSON.parse(log.all().filter((r) => r.value !== null).at(-1)!.value!.toString()) as { task: string; units: Record<string, number> });
}

function expected(total: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: KEYS }, (_, i): [string, number] => [`k${i}`, total / KEYS]).sort(([a], [b]) => a.localeCompare(b)));
}

for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  test.serial(`${guarantee}: without compaction a restart after 40,000 updates restores from a snapshot about what one after 1,000 does, with the state of a full replay`, async (t) => {
    const broker = new MemoryBroker();
    const cutSnapshot = { armed: false, cuts: 0 };
    const run: Run = { transport: transportOf(broker, cutSnapshot), input: `snap-in-${guarantee}`, applicationId: `snap-${guarantee}`, guarantee, cutSnapshot };
    await run.transport.admin().createTopics([{ name: run.input, partitions: 2, kind: 'replayable' }]);
    const producer = run.transport.producer();
    await producer.connect();

    const small = await restartAfter(run, producer, 0, 1_000);
    t.deepEqual(small.counts, expected(1_000));
    const smallEpochs = new Set(guarantee === 'exactly_once' ? latestCheckpoints(broker, run.applicationId).flatMap((cp) => Object.keys(cp.units)) : []);
    const large = await restartAfter(run, producer, 1_000, 40_000);
    t.deepEqual(large.counts, expected(40_000));
    t.log(`restored ${small.restored} records after 1,000 updates, ${large.restored} after 40,000`);
    // Per partition: 100 snapshot entries plus a tail under minRecords (1,000) and one commit's batch.
    t.true(large.restored <= 2 * (100 + 1_000 + 1_000), `after 40,000: ${large.restored}`);

    // Older snapshots are gone: one per changelog partition is left.
    const snapshots = await run.transport.admin().listTopics(`${run.applicationId}-counts-changelog.snapshot.`);
    t.is(snapshots.length, 2, snapshots.join(', '));
    if (guarantee === 'exactly_once') {
      // Each task's latest checkpoint, last in the task's own partition, states landed units only
      // of epochs that may have written past the latest snapshots: the 1,000-update runs' are gone.
      const after = latestCheckpoints(broker, run.applicationId);
      t.deepEqual(after.map((cp) => cp.task), ['0_0', '0_1'], 'a checkpoint partition per task');
      for (const cp of after) {
        const epochs = Object.keys(cp.units);
        t.true(epochs.length <= 2 && !epochs.some((e) => smallEpochs.has(e)), `${JSON.stringify(cp.units)} after ${[...smallEpochs].join(', ')}`);
      }
    }
    // The same history replayed in full (snapshots off, a fresh application) gives the same state.
    const replay = countingApp({ ...run, applicationId: `${run.applicationId}-replay` }, false);
    await replay.start();
    await waitUntil(() => replay.recordsProcessed() >= 40_000, 'the replaying app to count everything', 60_000);
    t.deepEqual(await counts(replay), large.counts);
    await replay.close();
    await producer.disconnect();
  });
}

test.serial('a snapshot cut short by a crash is passed over: the restore takes the one before it and the changelog past that', async (t) => {
  const broker = new MemoryBroker();
  const cutSnapshot = { armed: false, cuts: 0 };
  const run: Run = { transport: transportOf(broker, cutSnapshot), input: 'snap-cut-in', applicationId: 'snap-cut', guarantee: 'exactly_once', cutSnapshot };
  await run.transport.admin().createTopics([{ name: run.input, partitions: 2, kind: 'replayable' }]);
  const producer = run.transport.producer();
  await producer.connect();
  // Many keys, so that a snapshot takes more than one send (5,000 records each); the first
  // snapshots complete (due once a partition's changelog holds twice its 6,000 entries past the last).
  const wide = async (from: number, to: number) => {
    for (let sent = from; sent < to; sent += 1000) {
      await producer.send(Array.from({ length: 1000 }, (_, i) => ({ topic: run.input, key: Buffer.from(`w${(sent + i) % 12_000}`), value: Buffer.from('v') })));
    }
  };
  const app = new StreamsBuilder();
  app.stream(run.input, { keySerde: Serdes.string(), valueSerde: Serdes.string() }).groupByKey().count({ storeName: 'counts' });
  const make = () => new StreamsApp(app.build(), { applicationId: run.applicationId, transport: run.transport, guarantee: 'exactly_once', commitIntervalMs: 20, logger: () => {}, snapshots: POLICY });
  const first = make();
  await first.start();
  await wide(0, 36_000);
  await waitUntil(() => first.recordsProcessed() >= 36_000, 'the first 36,000 updates', 60_000);
  const before = await run.transport.admin().listTopics(`${run.applicationId}-counts-changelog.snapshot.`);
  t.true(before.length >= 1, 'a complete snapshot exists');
  cutSnapshot.armed = true;
  await wide(36_000, 72_000);
  await waitUntil(() => first.recordsProcessed() >= 72_000, 'all 72,000 updates', 60_000);
  await first.close();
  cutSnapshot.armed = false;
  t.true(cutSnapshot.cuts >= 2, `snapshot writes cut short: ${cutSnapshot.cuts}`);
  const after = await run.transport.admin().listTopics(`${run.applicationId}-counts-changelog.snapshot.`);
  t.true(after.length > before.length, `incomplete snapshots are left beside the complete ones: ${after.join(', ')}`);

  const again = make();
  await again.start();
  await waitUntil(() => again.taskIds().length === 2, 'both tasks restored');
  const got = await counts(again);
  t.is(Object.keys(got).length, 12_000);
  t.true(Object.values(got).every((n) => n === 6), 'every key counted 6 times, as the history says');
  await again.close();
  await producer.disconnect();
});
