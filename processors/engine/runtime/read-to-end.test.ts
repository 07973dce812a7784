import test from 'ava';
import { MemoryBroker, MemoryTransport } from '../../../transports/index.ts';
import { tpKey } from '../../../transports/util.ts';
import { readToEnd } from './read-to-end.ts';

async function tenRecords() {
  const transport = new MemoryTransport({ broker: new MemoryBroker() });
  await transport.admin().createTopics([{ name: 'log', partitions: 1 }]);
  const producer = transport.producer();
  await producer.connect();
  await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic: 'log', key: Buffer.from(`k${i}`), value: Buffer.from(String(i)) })));
  return { transport, producer };
}

test('from: the reader seeks to the start given and hands over nothing before it; the end is the marker', async (t) => {
  const { transport, producer } = await tenRecords();
  const seen: number[] = [];
  const ends: number[] = [];
  await readToEnd({
    transport, producer, partitions: [{ topic: 'log', partition: 0 }], groupPrefix: 'r',
    from: new Map([[tpKey({ topic: 'log', partition: 0 }), 7]]),
    onRecord: (r) => { seen.push(r.offset); }, onEnd: (_, end) => { ends.push(end); },
  });
  t.deepEqual(seen, [7, 8, 9]);
  t.deepEqual(ends, [10]);
});

test('from past the end is not sought (the marker would never come): everything is read', async (t) => {
  const { transport, producer } = await tenRecords();
  const seen: number[] = [];
  await readToEnd({
    transport, producer, partitions: [{ topic: 'log', partition: 0 }], groupPrefix: 'r',
    from: new Map([[tpKey({ topic: 'log', partition: 0 }), 50]]),
    onRecord: (r) => { seen.push(r.offset); },
  });
  t.is(seen.length, 10);
});
