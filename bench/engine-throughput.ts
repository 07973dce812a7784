/**
 * Consume-process-produce throughput of the engine against the loop a user would write without
 * it, on the same transport, in the same run: a word count (key = word) that emits the running
 * count per input record. The ratio is the engine's cost (tasks, serdes, the count store and its
 * changelog, commit interval, start-up restore). Absolute numbers on these machines are noise;
 * ratios are not.
 *
 * Each run gets a fresh input topic with the N records already in it, so the time measured is
 * from starting the consumer (baseline) or the application (engine) until all N records are
 * processed and all N outputs have been read back from the output topic.
 *
 *   bash scripts/services up kafka
 *   node --import tsx bench/engine-throughput.ts [records=20000] [rounds=3] [transport=memory|kafka]
 */
import { randomUUID } from 'node:crypto';
import { endpoints } from '../scripts/endpoints.ts';
import { Serdes, StreamsApp, StreamsBuilder, type ProcessingGuarantee } from '../processors/engine/index.ts';
import { MemoryTransport, kafkaTransport, type Consumer, type ProducerRecord, type Transport } from '../transports/index.ts';
import { median, waitFor } from './support.ts';

const RECORDS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const TRANSPORT = process.argv[4] ?? 'memory';
if (TRANSPORT !== 'memory' && TRANSPORT !== 'kafka') throw new Error(`transport must be memory or kafka, not ${TRANSPORT}`);
const PARTITIONS = 4;
const WORDS = 1000;
const CHUNK = 1000;
const GUARANTEES: readonly ProcessingGuarantee[] = ['at_least_once', 'exactly_once'];
const wordOf = (i: number) => `word-${i % WORDS}`;
const long = Serdes.long();

interface Result { total: number; start?: number }

function makeTransport(): Transport {
  // The Kafka client is KAFKA_CLIENT's (kafkajs by default, or platformatic).
  return TRANSPORT === 'kafka' ? kafkaTransport({ brokers: endpoints().kafkaBrokers, logLevel: 'nothing' }) : new MemoryTransport();
}

interface Setup {
  readonly transport: Transport;
  readonly id: string;
  readonly input: string;
  readonly output: string;
  readonly readerGroup: string;
  readonly reader: Consumer;
  outputs: number;
}

/** Fresh topics, the N inputs produced up front, and a reader of the output topic already in its group. */
async function setup(kind: string): Promise<Setup> {
  const transport = makeTransport();
  const id = `${kind}-${randomUUID().slice(0, 8)}`;
  const input = `bench-engine-in-${id}`;
  const output = `bench-engine-out-${id}`;
  await transport.admin().createTopics([input, output].map((name) => ({ name, partitions: PARTITIONS, kind: 'replayable' as const })));
  const producer = transport.producer();
  await producer.connect();
  for (let i = 0; i < RECORDS; i += CHUNK) {
    await producer.send(Array.from({ length: Math.min(CHUNK, RECORDS - i) }, (_, j) => ({
      topic: input, key: Buffer.from(JSON.stringify(wordOf(i + j))), value: Buffer.from(JSON.stringify(`${wordOf(i + j)} ${i + j}`)),
    })));
  }
  await producer.disconnect();
  const readerGroup = `bench-engine-reader-${id}`;
  const reader = transport.consumer({ groupId: readerGroup, topics: [output], autoOffsetReset: 'earliest', maxBatchSize: CHUNK });
  await reader.connect();
  const s: Setup = { transport, id, input, output, readerGroup, reader, outputs: 0 };
  await reader.run(async (batch) => { s.outputs += batch.records.length; });
  return s;
}

async function teardown(s: Setup, groups: string[], topics: string[]): Promise<void> {
  await s.reader.disconnect();
  const admin = s.transport.admin();
  await admin.deleteGroups([...groups, s.readerGroup]).catch(() => undefined);
  await admin.deleteTopics([s.input, s.output, ...topics]).catch(() => undefined);
  await s.transport.close();
}

/** The hand-written loop: count per word in a Map, one output per input, commit after each batch. */
async function baseline(guarantee: ProcessingGuarantee): Promise<Result> {
  const s = await setup('base');
  const groupId = `bench-engine-base-${s.id}`;
  const eos = guarantee === 'exactly_once';
  const counts = new Map<string, number>();
  let processed = 0;
  const t0 = performance.now();
  const producer = s.transport.producer(eos ? { transactionalId: `${groupId}-tx` } : {});
  await producer.connect();
  const consumer = s.transport.consumer({ groupId, topics: [s.input], autoOffsetReset: 'earliest', maxBatchSize: CHUNK });
  await consumer.connect();
  await consumer.run(async (batch) => {
    const outs: ProducerRecord[] = [];
    for (const r of batch.records) {
      const word = JSON.parse(r.key!.toString()) as string;
      JSON.parse(r.value!.toString());
      const n = (counts.get(word) ?? 0) + 1;
      counts.set(word, n);
      outs.push({ topic: s.output, key: Buffer.from(JSON.stringify(word)), value: long.encode(n), timestamp: r.timestamp });
    }
    const offsets = [{ topic: batch.topic, partition: batch.partition, offset: batch.records[batch.records.length - 1]!.offset + 1 }];
    if (eos) {
      await producer.sendTransaction(outs, { groupId, offsets });
    } else {
      await producer.send(outs);
      await consumer.commit(offsets);
    }
    processed += batch.records.length;
  });
  await waitFor(() => processed >= RECORDS && s.outputs >= RECORDS, () => `baseline: ${processed} processed, ${s.outputs} outputs of ${RECORDS}`);
  const total = performance.now() - t0;
  await consumer.disconnect();
  await producer.disconnect();
  await teardown(s, [groupId], []);
  return { total };
}

/** The same word count as a topology, run by StreamsApp. */
async function engine(guarantee: ProcessingGuarantee): Promise<Result> {
  const s = await setup('app');
  const applicationId = `bench-engine-app-${s.id}`;
  const b = new StreamsBuilder();
  b.stream<string, string>(s.input).groupByKey().count().toStream().to(s.output);
  const app = new StreamsApp(b.build(), { applicationId, transport: s.transport, guarantee, commitIntervalMs: 100, logger: () => {} });
  const t0 = performance.now();
  await app.start();
  const start = performance.now() - t0;
  await waitFor(() => app.recordsProcessed() >= RECORDS && s.outputs >= RECORDS, () => `engine: ${app.recordsProcessed()} processed, ${s.outputs} outputs of ${RECORDS}`);
  const total = performance.now() - t0;
  await app.close();
  await teardown(s, [applicationId], app.internalTopicNames());
  return { total, start };
}

console.log(`${RECORDS} records, ${WORDS} words, ${PARTITIONS} partitions, ${TRANSPORT}, commit interval 100 ms, median of ${ROUNDS} interleaved rounds`);
const results = new Map(GUARANTEES.map((g) => [g, { base: [] as Result[], ours: [] as Result[] }]));
// Interleaved rounds, so drift on a noisy machine hits both sides alike; the order alternates.
for (let r = 0; r < ROUNDS; r++) {
  for (const g of GUARANTEES) {
    const m = results.get(g)!;
    if (r % 2 === 0) { m.base.push(await baseline(g)); m.ours.push(await engine(g)); }
    else { m.ours.push(await engine(g)); m.base.push(await baseline(g)); }
  }
}
for (const g of GUARANTEES) {
  const { base, ours } = results.get(g)!;
  const bm = median(base.map((x) => x.total));
  const om = median(ours.map((x) => x.total));
  const sm = median(ours.map((x) => x.start!));
  console.log(`${TRANSPORT} ${g}: baseline ${Math.round(bm)} ms, engine ${Math.round(om)} ms, ratio ${(om / bm).toFixed(2)}` +
    `   (engine start-up ${Math.round(sm)} ms of it; after start-up, ratio ${((om - sm) / bm).toFixed(2)})`);
}
