/**
 * patches/kafkajs+2.2.4.patch (applied by `npm ci` through patch-package) makes KafkaJS's
 * groupMessagesPerPartition linear: the original copied a partition's array for every message.
 * The patched function must group exactly as the original did.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
type Message = { partition?: number; key: string };
type Group = (args: { topic: string; partitionMetadata: unknown[]; messages: Message[]; partitioner: (a: { message: Message }) => number }) => Record<number, Message[]>;
const installed = require(path) as Group;

/** KafkaJS 2.2.4's own implementation, as shipped. */
const original: Group = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce((result: Record<number, Message[]>, message) => {
    const partition = partitioner({ topic, partitionMetadata, message } as never);
    const current = result[partition] ?? [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
};

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
