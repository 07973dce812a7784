/**
 * A consumer in its own process, for crash tests: the parent kills it with SIGKILL.
 * Env: TRANSPORT, broker settings, WORKER_TOPIC, WORKER_GROUP, WORKER_COMMIT=1|0.
 * Prints one JSON line per handled record ({p,o,v}), after its batch's commit when committing.
 */
import { createTransport, transportConfigFromEnv } from '../../transports/index.ts';

const topic = process.env.WORKER_TOPIC!;
const groupId = process.env.WORKER_GROUP!;
const commit = process.env.WORKER_COMMIT === '1';

const transport = createTransport(transportConfigFromEnv());
const consumer = transport.consumer({ groupId, topics: [topic], maxBatchSize: 50 });
await consumer.connect();
await consumer.run(async (batch) => {
  const last = batch.records[batch.records.length - 1]!;
  if (commit) await consumer.commit([{ topic, partition: batch.partition, offset: last.offset + 1 }]);
  process.stdout.write(batch.records.map((r) => JSON.stringify({ p: r.partition, o: r.offset, v: r.value?.toString() }) + '\n').join(''));
  // Slow enough that the parent's kill lands mid-stream.
  await new Promise((r) => setTimeout(r, 20));
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
await consumer.stopped();
