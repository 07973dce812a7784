import test from 'ava';
import { Partitioners } from 'kafkajs';
import { murmur2, partitionForKey } from '../../transports/partitioner.ts';

// Vectors from Kafka's own UtilsTest.testMurmur2.
const kafkaVectors: [string | number[], number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  [[0x61, 0x62, 0x63], 479470107],
];

test('murmur2 matches the Java implementation on Kafka test vectors', (t) => {
  for (const [input, expected] of kafkaVectors) {
    const bytes = typeof input === 'string' ? Buffer.from(input) : Buffer.from(input);
    t.is(murmur2(bytes), expected, `murmur2(${JSON.stringify(input)})`);
  }
});

test('partitionForKey agrees with the KafkaJS Java-compatible partitioner', (t) => {
  const kafkajs = Partitioners.DefaultPartitioner();
  const partitionMetadata = (n: number) =>
    Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  for (let i = 0; i < 2000; i++) {
    const key = Buffer.from(`order-${i * 7919}-${(i * 31) % 97}`);
    const n = 1 + (i % 12);
    const expected = kafkajs({ topic: 't', partitionMetadata: partitionMetadata(n), message: { key, value: null } });
    t.is(partitionForKey(key, n), expected, `key ${key.toString()} over ${n} partitions`);
  }
});
