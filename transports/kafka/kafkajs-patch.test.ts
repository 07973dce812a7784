/**
 * patches/kafkajs+2.2.4.patch (applied by `npm ci` through patch-package) makes KafkaJS's
 * groupMessagesPerPartition linear: the original copied a partition's array for every message.
 * The patched function must group exactly as the original did.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { installed, installedPath as path, shipped as original } from './kafkajs-grouping.ts';

type Message = { partition?: number; key: string };

test('the installed KafkaJS carries the patch (npm ci ran patch-package)', (t) => {
  const source = readFileSync(path, 'utf8');
  t.false(source.includes('[partition]: [...current'), 'the quadratic copy is gone');
  t.true(source.includes('orderstream patch'));
});

test('the patched grouping equals the original on random messages, partitions in message order', (t) => {
  let seed = 42;
  const next = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed; };
  for (let round = 0; round < 50; round++) {
    const partitions = 1 + (next() % 8);
    const messages = Array.from({ length: next() % 300 }, (_, i) => ({ key: `k${i}`, partition: next() % partitions }));
    const args = { topic: 't', partitionMetadata: Array.from({ length: partitions }, (_, id) => ({ partitionId: id })), messages, partitioner: ({ message }: { message: Message }) => message.partition! };
    t.deepEqual(installed(args), original(args));
  }
  t.deepEqual(installed({ topic: 't', partitionMetadata: [], messages: [{ key: 'a', partition: 0 }], partitioner: () => 0 }), {});
});
