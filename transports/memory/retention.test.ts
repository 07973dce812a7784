/** The in-memory broker bounds its logs as a broker does: compacted topics by key, others by age. */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryTransport } from './index.ts';
import type { ConsumedRecord, Transport } from '../types.ts';

async function readAll(transport: Transport, topic: string): Promise<ConsumedRecord[]> {
  const got: ConsumedRecord[] = [];
  const consumer = transport.consumer({ groupId: `read-${Math.random()}`, topics: [topic] });
  await consumer.connect();
  await consumer.run(async (b) => { got.push(...b.records); });
  await sleep(100);
  await consumer.disconnect();
  return got;
}

test('a compacted topic written 20,000 times over 10 keys holds about as many records as keys', async (t) => {
  const transport = new MemoryTransport();
  await transport.admin().createTopics([{ name: 'c', partitions: 1, kind: 'replayable', compacted: true }]);
  const producer = transport.producer();
  await producer.connect();
  for (let batch = 0; batch < 20; batch++) {
    await producer.send(Array.from({ length: 1000 }, (_, i) => ({ topic: 'c', key: Buffer.from(`k${i % 10}`), value: Buffer.from(String(batch * 1000 + i)) })));
  }
  const got = await readAll(transport, 'c');
  t.true(got.length <= 1000 + 10, `a new reader got ${got.length} records`);
  const latest = new Map(got.map((r) => [r.key!.toString(), r.value!.toString()]));
  t.is(latest.size, 10);
  t.is(latest.get('k9'), '19999');
  t.is(latest.get('k0'), '19990');
  const [last] = await producer.send([{ topic: 'c', key: Buffer.from('k0'), value: Buffer.from('x') }]);
  t.is(last!.offset, 20_000, 'offsets are not reused');
});

test('a topic that is not compacted drops what is older than its retention; a reader starts at the oldest kept', async (t) => {
  const transport = new MemoryTransport({ retentionMs: 200 });
  await transport.admin().createTopics([{ name: 'w', partitions: 1 }, { name: 'kept', partitions: 1, retentionMs: 60_000 }]);
  const producer = transport.producer();
  await producer.connect();
  await producer.send([{ topic: 'w', key: null, value: Buffer.from('old') }, { topic: 'kept', key: null, value: Buffer.from('old') }]);
  await sleep(1_300); // past the retention and the broker's once-a-second look at it
  await producer.send([{ topic: 'w', key: null, value: Buffer.from('new') }, { topic: 'kept', key: null, value: Buffer.from('new') }]);
  t.deepEqual((await readAll(transport, 'w')).map((r) => `${r.offset}:${r.value!.toString()}`), ['1:new']);
  t.deepEqual((await readAll(transport, 'kept')).map((r) => r.value!.toString()), ['old', 'new'], "the topic's own retention wins");
});
