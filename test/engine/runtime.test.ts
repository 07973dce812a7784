/** The runtime's start-up checks, error policies and metrics, on the in-memory transport. */
import test from 'ava';
import { DeadLetterHeaders, StreamsApp, StreamsBuilder, TopologyError, UnsupportedGuaranteeError, type Serde } from '../../processors/engine/index.ts';
import { MemoryBroker, MemoryTransport, type ConsumedRecord } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';
import { rabbitLike } from './rabbit-like.ts';

function setup(partitions: Record<string, number>) {
  const broker = new MemoryBroker();
  const transport = new MemoryTransport({ broker });
  return { transport, ready: transport.admin().createTopics(Object.entries(partitions).map(([name, p]) => ({ name, partitions: p }))) };
}

const strictNumber: Serde<number> = {
  serialize: (_t, v) => Buffer.from(String(v)),
  deserialize: (topic, data) => {
    const n = Number(data.toString());
    if (!Number.isInteger(n)) throw new TypeError(`not an integer: ${JSON.stringify(data.toString())} on ${topic}`);
    return n;
  },
};

test('an undecodable record goes to the dead-letter topic with its origin; the next one is processed', async (t) => {
  const { transport, ready } = setup({ in: 1, out: 1 });
  await ready;
  const b = new StreamsBuilder();
  b.stream<string, number>('in', { valueSerde: strictNumber }).mapValues((v) => v * 10).to('out', { valueSerde: strictNumber });
  const app = new StreamsApp(b.build(), { applicationId: 'dlq', transport, errors: { deserialization: 'dead-letter' }, logger: () => {} });
  await app.start();
  t.teardown(() => app.close());
  const p = transport.producer();
  await p.connect();
  await p.send(['1', 'x!', '3'].map((v) => ({ topic: 'in', key: Buffer.from('"k"'), value: Buffer.from(v) })));
  const out: ConsumedRecord[] = [];
  const dead: ConsumedRecord[] = [];
  const reader = transport.consumer({ groupId: 'reader', topics: ['out', 'dlq-dlq'] });
  await reader.connect();
  await reader.run(async (batch) => { (batch.topic === 'out' ? out : dead).push(...batch.records); });
  t.teardown(() => reader.disconnect());
  await waitUntil(() => out.length === 2 && dead.length === 1, 'two outputs and one dead letter');
  t.deepEqual(out.map((r) => r.value!.toString()), ['10', '30']);
  const d = dead[0]!;
  t.is(d.value!.toString(), 'x!', 'the original bytes');
  t.is(d.headers[DeadLetterHeaders.stage]!.toString(), 'deserialization');
  t.is(d.headers[DeadLetterHeaders.offset]!.toString(), '1');
  t.regex(d.headers[DeadLetterHeaders.reason]!.toString(), /not an integer: "x!"/);
  t.regex(app.metricsText(), /kafka_stream_task_process_total\{task="0_0",application="dlq"\} 3/);
  t.regex(app.metricsText(), /orderstream_task_dead_letters_total\{task="0_0",reason="deserialization",application="dlq"\} 1/);
  t.regex(app.metricsText(), /kafka_stream_client_state\{state="RUNNING",application="dlq"\} 1/);
});

test('joined topics with different partition counts fail at start, naming both', async (t) => {
  const { transport, ready } = setup({ a: 2, b: 3, out: 1 });
  await ready;
  const builder = new StreamsBuilder();
  const table = builder.table<string, string>('b');
  builder.stream<string, string>('a').join(table, (x, y) => x + y).to('out');
  const app = new StreamsApp(builder.build(), { applicationId: 'copart', transport, logger: () => {} });
  const err = await t.throwsAsync(app.start());
  t.true(err instanceof TopologyError);
  t.regex(err!.message, /co-partitioned.*a=2.*b=3/);
});

test('missing input topics fail at start with their names', async (t) => {
  const { transport, ready } = setup({ out: 1 });
  await ready;
  const b = new StreamsBuilder();
  b.stream('nowhere').to('out');
  const err = await t.throwsAsync(new StreamsApp(b.build(), { applicationId: 'missing', transport, logger: () => {} }).start());
  t.true(err instanceof TopologyError);
  t.regex(err!.message, /topics missing: nowhere/);
});

test('exactly_once on RabbitMQ needs replayable inputs and says so', async (t) => {
  const broker = new MemoryBroker();
  const transport = rabbitLike(broker);
  await transport.admin().createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }]);
  const b = new StreamsBuilder();
  b.stream('in').to('out');
  const err = await t.throwsAsync(new StreamsApp(b.build(), { applicationId: 'eo', transport, guarantee: 'exactly_once', logger: () => {} }).start());
  t.true(err instanceof UnsupportedGuaranteeError);
  t.regex(err!.message, /replayable input topics.*in is a work topic/);
});

test('a restarted application restores its store from the changelog and continues the counts', async (t) => {
  const { transport, ready } = setup({ words: 2, counts: 2 });
  await ready;
  const build = () => {
    const b = new StreamsBuilder();
    b.stream<string, string>('words').groupByKey().count({ storeName: 'c' }).toStream().to('counts');
    return b.build();
  };
  const p = transport.producer();
  await p.connect();
  const send = (keys: string[]) => p.send(keys.map((k) => ({ topic: 'words', key: Buffer.from(JSON.stringify(k)), value: Buffer.from('1') })));
  const first = new StreamsApp(build(), { applicationId: 'restart', transport, logger: () => {} });
  await first.start();
  await send(['a', 'b', 'a']);
  await waitUntil(() => first.recordsProcessed() === 3, 'three records');
  await first.close();
  const second = new StreamsApp(build(), { applicationId: 'restart', transport, logger: () => {} });
  await second.start();
  t.teardown(() => second.close());
  await send(['a']);
  await waitUntil(() => second.recordsProcessed() === 1, 'one more record');
  const counts = new Map<string, number>();
  for (const s of second.stores<import('../../processors/engine/index.ts').KeyValueStore<string, number>>('c')) for (const { key, value } of s.all()) counts.set(key, value);
  t.deepEqual(Object.fromEntries(counts), { a: 3, b: 1 });
});
