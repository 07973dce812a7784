/**
 * A consumer in its own process, for crash tests: the parent kills it with SIGKILL.
 * Env: TRANSPORT, broker settings, WORKER_TOPIC, WORKER_GROUP, WORKER_COMMIT=1|0.
 * Prints one JSON line per handled record ({p,o,v}), before its batch's commit when committing.
 */
import { createTransport, transportConfigFromEnv } from '../../transports/index.ts';

const topic = process.env.WORKER_TOPIC!;
const groupId = process.env.WORKER_GROUP!;
const commit = process.env.WORKER_COMMIT === '1';

const transport = createTransport(transportConfigFromEnv());
const consumer = transport.consumer({ groupId, topics: [topic], maxBatchSize: 50 });
await consumer.connect();
await consumer.run(async (batch) => {
  // The effect (telling the parent) comes before the commit, as in any at-least-once consumer:
  // a kill between the two redelivers the batch rather than losing it.
  process.stdout.write(batch.records.map((r) => JSON.stringify({ p: r.partition, o: r.offset, v: r.value?.toString() }) + '\n').join(''));
  const last = batch.records[batch.records.length - 1]!;
  if (commit) await consumer.commit([{ topic, partition: batch.partition, offset: last.offset + 1 }]);
  // Slow enough that the parent's kill lands mid-stream.
  await new Promise((r) => setTimeout(r, 50));
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
await consumer.stopped();
