import test from 'ava';
import type { TopicDescription } from '../../../transports/index.ts';
import { TopologyError, UnsupportedGuaranteeError } from '../errors.ts';
import { StreamsBuilder } from '../dsl/builder.ts';
import type { Topology } from '../topology.ts';
import { changelogTopics, planTopics, routeTopics, type PlanOptions } from './topic-plan.ts';

const options: PlanOptions = { applicationId: 'app', defaultPartitions: 5 };


function described(counts: Record<string, number>, kind: TopicDescription['kind'] = 'replayable'): Map<string, TopicDescription> {
  return new Map(Object.entries(counts).map(([name, partitions]) => [name, { name, partitions, kind }]));
}

function plan(topology: Topology, counts: Record<string, number>, more: Partial<PlanOptions> = {}, kind?: TopicDescription['kind']) {
  return planTopics(topology, routeTopics(topology, 'app'), described(counts, kind), { ...options, ...more });
}

/** words → count by a new key (a repartition topic) → counts. */
function recount(): Topology {
  const b = new StreamsBuilder();
  b.stream<string, string>('words').groupBy((_k, v) => v).count({ storeName: 'by-word' }).toStream().to('counts');
  return b.build();
}

test('external topics are the sources and sinks the application does not create', (t) => {
  const routing = routeTopics(recount(), 'app');
  t.deepEqual([...routing.external].sort(), ['counts', 'words']);
  t.true([...routing.subOfTopic.keys()].some((topic) => topic.startsWith('app-') && topic.endsWith('-repartition')), 'the repartition topic is read under the application id');
});

test('a repartition topic takes the partition count of the sub-topology writing it; its changelog the reader\'s task count', (t) => {
  const topology = recount();
  const p = plan(topology, { words: 3, counts: 7 });
  const repartition = p.create.find((s) => s.name.endsWith('-repartition'))!;
  t.is(repartition.partitions, 3);
  const changelog = p.create.find((s) => s.name === 'app-by-word-changelog')!;
  t.deepEqual(changelog, { name: 'app-by-word-changelog', partitions: 3, kind: 'replayable', compacted: true });
  t.deepEqual([...p.taskCount.values()].sort(), [3, 3]);
  t.is(p.partitions.get('counts'), 7);
  t.deepEqual(changelogTopics(topology, p, 'app'), ['app-by-word-changelog']);
});

test('a repartition topic with an explicit count keeps it; counts flow through chains of repartition topics', (t) => {
  const b = new StreamsBuilder();
  b.stream<string, string>('in').repartition({ name: 'fixed', partitions: 2 }).to('out');
  t.is(plan(b.build(), { in: 4, out: 4 }).partitions.get('app-fixed-repartition'), 2);

  const loop = new StreamsBuilder();
  loop.stream<string, string>('in').repartition({ name: 'first' }).repartition({ name: 'second' }).to('out');
  const counts = plan(loop.build(), { in: 4, out: 4 }).partitions;
  t.is(counts.get('app-first-repartition'), 4);
  t.is(counts.get('app-second-repartition'), 4, 'the count flows through a chain of repartition topics');
});

test('missing topics are named, all of them, in one TopologyError', (t) => {
  const err = t.throws(() => plan(recount(), {}), { instanceOf: TopologyError });
  t.regex(err!.message, /topics missing: (words, counts|counts, words); create them before starting app/);
});

test('joined topics of different partition counts are refused, with the counts', (t) => {
  const b = new StreamsBuilder();
  const left = b.stream<string, string>('left');
  const right = b.table<string, string>('right');
  left.join(right, (l, r) => `${l}${r}`).to('joined');
  const err = t.throws(() => plan(b.build(), { left: 2, right: 3, joined: 2 }), { instanceOf: TopologyError });
  t.regex(err!.message, /co-partitioned.*left=2.*right=3|co-partitioned.*right=3.*left=2/);
  t.notThrows(() => plan(b.build(), { left: 3, right: 3, joined: 2 }));
});

test('a dead-letter topic of one partition, and a checkpoint topic per sub-topology with a partition per task, when asked for', (t) => {
  const checkpointTopic = (sub: number) => `app-${sub}-checkpoints`;
  const p = plan(recount(), { words: 3, counts: 1 }, { deadLetterTopic: 'app-dlq', checkpointTopic, checkpointRetention: { retentionBytes: 1000, segmentBytes: 100 } });
  const made = p.create.filter((s) => s.name === 'app-dlq' || s.name.endsWith('-checkpoints'));
  t.deepEqual(made.map((s) => [s.name, s.partitions, s.retentionBytes, s.segmentBytes]), [
    ['app-dlq', 1, undefined, undefined], ['app-0-checkpoints', 3, 1000, 100], ['app-1-checkpoints', 3, 1000, 100],
  ]);
  t.deepEqual([...p.taskCount.values()], [3, 3], 'as many partitions as tasks');
  t.false(plan(recount(), { words: 1, counts: 1 }).create.some((s) => s.name === 'app-dlq' || s.name.endsWith('-checkpoints')));
});

test('changelogs and the checkpoint topics are compacted, except when a restore filters by commit unit', (t) => {
  const compaction = (extra: Parameters<typeof plan>[2]) => plan(recount(), { words: 1, counts: 1 }, { checkpointTopic: (sub) => `app-${sub}-checkpoints`, ...extra }).create
    .filter((s) => s.name.endsWith('-checkpoints') || s.name.endsWith('-changelog')).map((s) => s.compacted);
  t.deepEqual(new Set(compaction({})), new Set([true]));
  t.deepEqual(new Set(compaction({ compacted: false })), new Set([false]));
});

test('effectively-once refuses a work-topic input and names the transport; sinks may be work topics', (t) => {
  const b = new StreamsBuilder();
  b.stream('in').to('out');
  const topology = b.build();
  const err = t.throws(() => plan(topology, { in: 1, out: 1 }, { replayableInputs: { transport: 'rabbit' } }, 'work'), { instanceOf: UnsupportedGuaranteeError });
  t.regex(err!.message, /exactly_once on rabbit needs replayable input topics.*in is a work topic/);
  const mixed = new Map([...described({ in: 1 }, 'replayable'), ...described({ out: 1 }, 'work')]);
  t.notThrows(() => planTopics(topology, routeTopics(topology, 'app'), mixed, { ...options, replayableInputs: { transport: 'rabbit' } }));
});
