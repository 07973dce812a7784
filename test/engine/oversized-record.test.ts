/**
 * One output bigger than its topic takes, among normal ones, on every transport and guarantee:
 * it goes to the dead-letter topic with its size and the limit in the reason, the outputs after
 * it arrive, and the application keeps running. Each transport's own limit: Kafka's default
 * `max.message.bytes` (1 MiB) read from the broker, RabbitMQ's default `max_message_size`
 * (128 MiB), the memory transport's configured one. And a store value too large for its
 * changelog stops the application instead of leaving the store ahead of its changelog.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { endpoints } from '../../scripts/endpoints.ts';
import {
  DeadLetterHeaders, RecordTooLargeFailure, Serdes, StreamsApp, StreamsBuilder, type ProcessingGuarantee,
} from '../../processors/engine/index.ts';
import { KafkaTransport, MemoryTransport, RabbitTransport, type ConsumedRecord, type Transport } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';

interface Target {
  readonly name: string;
  make(): Transport;
  /** Bytes of the inflated output: over the transport's limit. */
  readonly bigBytes: number;
}

const { kafkaBrokers, rabbitUrl, rabbitManagementUrl } = endpoints();
const targets: Target[] = [
  { name: 'memory', make: () => new MemoryTransport({ maxRecordBytes: 64 * 1024 }), bigBytes: 100_000 },
  { name: 'kafka', make: () => new KafkaTransport({ brokers: kafkaBrokers, sessionTimeoutMs: 6000 }), bigBytes: 2 * 1024 * 1024 },
  { name: 'rabbit', make: () => new RabbitTransport({ url: rabbitUrl, managementUrl: rabbitManagementUrl }), bigBytes: 128 * 1024 * 1024 + 1 },
];

const NORMAL = 20;
const BIG_AT = 7;

for (const target of targets) {
  for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
    test.serial(`${target.name} (${guarantee}): an output over the topic's limit goes to the dead-letter topic, the next ones are processed`, async (t) => {
      await oversizedOutput(t, target, guarantee);
    });
  }
}

async function oversizedOutput(t: ExecutionContext, target: Target, guarantee: ProcessingGuarantee): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const input = `oversized-in-${id}`;
  const output = `oversized-out-${id}`;
  const applicationId = `oversized-app-${id}`;
  const dlq = `${applicationId}-dlq`;
  const transport = target.make();
  const admin = transport.admin();
  await admin.createTopics([input, output].map((name) => ({ name, partitions: 2, kind: 'replayable' as const })));
  const b = new StreamsBuilder();
  const string = Serdes.string();
  b.stream<string, string>(input, { keySerde: string, valueSerde: string })
    .mapValues((v) => (v === 'inflate' ? 'x'.repeat(target.bigBytes) : v))
    .to(output, { keySerde: string, valueSerde: string });
  const app = new StreamsApp(b.build(), { applicationId, transport, guarantee, commitIntervalMs: 100, logger: (l) => t.log(l.slice(0, 300)) });
  const producer = transport.producer();
  const readers = [transport.consumer({ groupId: `${applicationId}-out`, topics: [output] })];
  t.teardown(async () => {
    await app.close().catch(() => undefined);
    for (const r of readers) await r.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteGroups([applicationId, `${applicationId}-out`, `${applicationId}-dead`]).catch(() => undefined);
    await admin.deleteTopics([input, output, ...app.internalTopicNames()]).catch(() => undefined);
    await transport.close();
  });
  await app.start();
  let outcome: string | undefined;
  void app.stopped().then(() => { outcome = 'closed'; }, (e: unknown) => { outcome = String(e); });

  await producer.connect();
  // One key: one partition, so the records after the big one are behind it in the same task.
  const values = Array.from({ length: NORMAL + 1 }, (_, i) => (i === BIG_AT ? 'inflate' : `v${i}`));
  await producer.send(values.map((v) => ({ topic: input, key: Buffer.from('k'), value: Buffer.from(v) })));

  const out: ConsumedRecord[] = [];
  await readers[0]!.connect();
  await readers[0]!.run(async (batch) => { out.push(...batch.records); });
  await waitUntil(() => out.length >= NORMAL || outcome !== undefined, `${NORMAL} outputs (have ${out.length})`, 60_000);
  t.is(outcome, undefined, 'the application is still running');
  t.deepEqual(out.map((r) => r.value!.toString()), values.filter((v) => v !== 'inflate'), 'the others in order, the big one not among them');

  // The dead-letter topic exists now: it was written in the same commit as the outputs after it, or before.
  const dead: ConsumedRecord[] = [];
  const deadReader = transport.consumer({ groupId: `${applicationId}-dead`, topics: [dlq] });
  readers.push(deadReader);
  await deadReader.connect();
  await deadReader.run(async (batch) => { dead.push(...batch.records); });
  await waitUntil(() => dead.length >= 1, 'the dead letter', 30_000);
  const d = dead[0]!;
  const h = (name: string) => d.headers[name]?.toString();
  t.is(h(DeadLetterHeaders.stage), 'produce');
  t.is(h(DeadLetterHeaders.error), 'RecordTooLargeFailure');
  t.is(h(DeadLetterHeaders.target), output);
  t.is(h(DeadLetterHeaders.topic), input);
  t.is(h(DeadLetterHeaders.offset), String(BIG_AT));
  const reason = h(DeadLetterHeaders.reason) ?? '';
  const m = /output of (\d+) bytes is over the limit of (\d+) bytes of topic (\S+)/.exec(reason);
  t.truthy(m, reason);
  t.true(Number(m![1]) > target.bigBytes && Number(m![2]) < target.bigBytes, 'size and limit as the transport counts them');
  t.is(m![3], output);
  t.is(d.key?.toString(), 'k');
  // The dead-letter topic has the same limit: the value is left out, the headers name the source.
  t.is(d.value, null);
  t.is(app.state, 'RUNNING');
}

test.serial('memory: a store value too large for its changelog stops the application, naming store and sizes', async (t) => {
  const transport = new MemoryTransport({ maxRecordBytes: 10_000 });
  await transport.admin().createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }]);
  const b = new StreamsBuilder();
  const string = Serdes.string();
  b.stream<string, string>('in', { keySerde: string, valueSerde: string })
    .groupByKey()
    .aggregate(() => '', (_k, v, acc) => acc + v, { storeName: 'concat', keySerde: string, valueSerde: string })
    .toStream()
    .to('out', { keySerde: string, valueSerde: string });
  const app = new StreamsApp(b.build(), { applicationId: 'changelog-limit', transport, errors: { processing: 'dead-letter' }, logger: () => {} });
  await app.start();
  t.teardown(() => app.close());
  const p = transport.producer();
  await p.connect();
  await p.send(Array.from({ length: 4 }, () => ({ topic: 'in', key: Buffer.from('k'), value: Buffer.from('y'.repeat(3000)) })));
  const err = await t.throwsAsync(app.stopped());
  t.true(err instanceof RecordTooLargeFailure, String(err));
  t.regex(err!.message, /changelog entry of store concat is \d+ bytes, over the limit of 10000 bytes of changelog-limit-concat-changelog/);
  t.false((err as RecordTooLargeFailure).retriable);
  t.is(app.state, 'ERROR');
});
