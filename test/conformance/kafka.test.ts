import test from 'ava';
import { randomUUID } from 'node:crypto';
import { KafkaTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashableProcess } from './crashable.ts';
import { conformance } from './suite.ts';

const brokers = endpoints().kafkaBrokers;

conformance({
  name: 'kafka',
  make: () => new KafkaTransport({ brokers, sessionTimeoutMs: 6000 }),
  makeUnreachable: () => new KafkaTransport({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 1000, logLevel: 'nothing' }),
  crashable: (spec) => crashableProcess({ TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(',') }, spec),
});

test('a handler slower than the session timeout keeps its partitions: the consumer heartbeats while it runs', async (t) => {
  t.timeout(60_000);
  const transport = new KafkaTransport({ brokers, sessionTimeoutMs: 6000 });
  const topic = `slow-handler-${randomUUID()}`;
  const groupId = `${topic}-group`;
  const admin = transport.admin();
  await admin.createTopics([{ name: topic, partitions: 1 }]);
  const producer = transport.producer();
  await producer.connect();
  const revoked: string[] = [];
  const consumer = transport.consumer({ groupId, topics: [topic], onRevoke: (ps) => { revoked.push(...ps.map((p) => `${p.topic}/${p.partition}`)); } });
  try {
    await consumer.connect();
    const handled = new Promise<number>((resolve, reject) => {
      void consumer.run(async (batch) => {
        await new Promise((r) => setTimeout(r, 9_000));
        const next = batch.records.at(-1)!.offset + 1;
        await consumer.commit([{ topic, partition: batch.partition, offset: next }]).then(() => resolve(next), reject);
      });
    });
    await producer.send([{ topic, key: Buffer.from('k'), value: Buffer.from('v') }]);
    t.is(await handled, 1, 'committed after 9 s in the handler: still the partition\'s owner');
    t.deepEqual(revoked, [], 'no rebalance took the partition away');
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics([topic]);
    await admin.deleteGroups([groupId]);
    await transport.close();
  }
});
