/**
 * Produce-then-consume throughput of our transports against the bare client library on the same
 * broker, in the same run: the ratio is the cost of our layer (partitioner, headers, group
 * coordination, explicit commits). Absolute numbers on these machines are noise; ratios are not.
 *
 *   bash scripts/services up kafka rabbit
 *   node --import tsx bench/transport-throughput.ts [records=50000] [rounds=3]
 */
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { endpoints } from '../scripts/endpoints.ts';
import { RabbitTransport, kafkaTransport, partitionForKey, type Transport } from '../transports/index.ts';
import { median } from './support.ts';

const RECORDS = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PARTITIONS = 4;
const CHUNK = 1000;
const value = Buffer.alloc(100, 7);
const keyOf = (i: number) => Buffer.from(`key-${i % 1000}`);

interface Result { produce: number; consume: number }

async function ours(transport: Transport): Promise<Result> {
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  const admin = transport.admin();
  await admin.createTopics([{ name: topic, partitions: PARTITIONS }]);
  const producer = transport.producer();
  await producer.connect();
  let t0 = performance.now();
  for (let i = 0; i < RECORDS; i += CHUNK) {
    await producer.send(Array.from({ length: Math.min(CHUNK, RECORDS - i) }, (_, j) => ({ topic, key: keyOf(i + j), value })));
  }
  const produce = performance.now() - t0;
  await producer.disconnect();
  let seen = 0;
  const consumer = transport.consumer({ groupId: `${topic}-g`, topics: [topic], maxBatchSize: CHUNK });
  await consumer.connect();
  t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    void consumer.run(async (batch) => {
      seen += batch.records.length;
      await consumer.commit([{ topic, partition: batch.partition, offset: batch.records[batch.records.length - 1]!.offset + 1 }]);
      if (seen >= RECORDS) resolve();
    });
  });
  await done;
  const consume = performance.now() - t0;
  await consumer.disconnect();
  await admin.deleteGroups([`${topic}-g`]);
  await admin.deleteTopics([topic]);
  await transport.close();
  return { produce, consume };
}

async function bareKafka(): Promise<Result> {
  const kafka = new Kafka({ brokers: endpoints().kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-raw-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let t0 = performance.now();
  for (let i = 0; i < RECORDS; i += CHUNK) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(CHUNK, RECORDS - i) }, (_, j) => ({ key: keyOf(i + j), value })) });
  }
  const produce = performance.now() - t0;
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  t0 = performance.now();
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
        if (seen >= RECORDS) resolve();
      },
    });
  });
  const consume = performance.now() - t0;
  await consumer.disconnect();
  await admin.deleteGroups([`${topic}-g`]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  return { produce, consume };
}

async function bareRabbit(): Promise<Result> {
  const conn = await amqp.connect(endpoints().rabbitUrl);
  const ch = await conn.createConfirmChannel();
  const topic = `bench-raw-${randomUUID().slice(0, 8)}`;
  await ch.assertExchange(topic, 'direct', { durable: true });
  for (let p = 0; p < PARTITIONS; p++) {
    await ch.assertQueue(`${topic}.${p}`, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true } });
    await ch.bindQueue(`${topic}.${p}`, topic, String(p));
  }
  let t0 = performance.now();
  for (let i = 0; i < RECORDS; i += CHUNK) {
    for (let j = 0; j < Math.min(CHUNK, RECORDS - i); j++) {
      const key = keyOf(i + j);
      if (!ch.publish(topic, String(partitionForKey(key, PARTITIONS)), value, { persistent: true, headers: { key } })) {
        await new Promise((r) => ch.once('drain', r));
      }
    }
    await ch.waitForConfirms();
  }
  const produce = performance.now() - t0;
  let seen = 0;
  t0 = performance.now();
  await new Promise<void>((resolve) => {
    void (async () => {
      for (let p = 0; p < PARTITIONS; p++) {
        const c = await conn.createChannel();
        await c.prefetch(2 * CHUNK);
        let pending = 0;
        await c.consume(`${topic}.${p}`, (msg) => {
          if (!msg) return;
          seen++;
          if (++pending >= 100) { c.ack(msg, true); pending = 0; }
          if (seen >= RECORDS) resolve();
        });
      }
    })();
  });
  const consume = performance.now() - t0;
  for (let p = 0; p < PARTITIONS; p++) await ch.deleteQueue(`${topic}.${p}`);
  await ch.deleteExchange(topic);
  await conn.close();
  return { produce, consume };
}

async function compare(name: string, baseline: () => Promise<Result>, candidate: () => Promise<Result>): Promise<void> {
  const b: Result[] = [];
  const c: Result[] = [];
  // Interleaved rounds, so drift on a noisy machine hits both sides alike.
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await baseline());
    c.push(await candidate());
  }
  for (const phase of ['produce', 'consume'] as const) {
    const bm = median(b.map((x) => x[phase]));
    const cm = median(c.map((x) => x[phase]));
    const rate = (ms: number) => Math.round(RECORDS / (ms / 1000)).toLocaleString('en');
    console.log(`${name.padEnd(7)} ${phase.padEnd(8)} bare ${rate(bm).padStart(9)} rec/s   ours ${rate(cm).padStart(9)} rec/s   ours/bare time ratio ${(cm / bm).toFixed(2)}`);
  }
}

console.log(`${RECORDS} records of ${value.length} B, ${PARTITIONS} partitions, sends of ${CHUNK}, median of ${ROUNDS} interleaved rounds`);
// Our Kafka transport on KAFKA_CLIENT's client (kafkajs by default, or platformatic).
await compare(`kafka (${process.env.KAFKA_CLIENT ?? 'kafkajs'})`, bareKafka, () => ours(kafkaTransport({ brokers: endpoints().kafkaBrokers })));
await compare('rabbit', bareRabbit, () => ours(new RabbitTransport({ url: endpoints().rabbitUrl, managementUrl: endpoints().rabbitManagementUrl })));
