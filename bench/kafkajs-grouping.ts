/**
 * KafkaJS's groupMessagesPerPartition as shipped (copies the partition's array for every
 * message) against the patched one installed from patches/kafkajs+2.2.4.patch, on the sizes our
 * Kafka transport sends (up to 2,000 records per partition per request, 6 partitions), in the
 * same run. CPU only, no broker.
 *
 *   npm run bench -- kafkajs-grouping
 */
import { installed as patched, shipped, type GroupMessages } from '../transports/kafka/kafkajs-grouping.ts';

type Message = { partition: number; value: string };

const PARTITIONS = 6;
const partitionMetadata = Array.from({ length: PARTITIONS }, (_, i) => ({ partitionId: i }));
function nsPerMessage(f: GroupMessages, n: number): number {
  const messages = Array.from({ length: n }, (_, i) => ({ partition: i % PARTITIONS, value: 'x' }));
  const args = { topic: 't', partitionMetadata, messages, partitioner: ({ message }: { message: Message }) => message.partition };
  f(args);
  const reps = 20;
  const start = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) f(args);
  return Number(process.hrtime.bigint() - start) / reps / n;
}

for (const n of [600, 3_000, 12_000]) {
  const rounds = [0, 1, 2].map(() => [nsPerMessage(shipped, n), nsPerMessage(patched, n)] as const);
  const s = rounds.map((r) => r[0]).sort((a, b) => a - b)[1]!;
  const p = rounds.map((r) => r[1]).sort((a, b) => a - b)[1]!;
  console.log(`${String(n).padStart(6)} messages / ${PARTITIONS} partitions per send: shipped ${s.toFixed(0)} ns/message, patched ${p.toFixed(0)} ns/message, ×${(s / p).toFixed(1)} (median of 3)`);
}
