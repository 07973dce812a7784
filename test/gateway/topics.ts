/** Reads what is on a contract topic right now (a fresh group from the earliest record), decoded. */
import { randomUUID } from 'node:crypto';
import type { System } from '../../gateway/system.ts';
import { isMarker } from '../../processors/engine/index.ts';
import { avroValueSerde, type TopicName, type TopicValue } from '../../schemas/index.ts';

/** Every record of the topic, read until `quietMs` pass without a new one. */
export async function readTopic<T extends TopicName>(system: Pick<System, 'transport' | 'contracts' | 'registry'>, name: T, quietMs = 500): Promise<TopicValue<T>[]> {
  const topic = system.contracts.topic(name);
  const serde = avroValueSerde(system.registry.client, name);
  const out: TopicValue<T>[] = [];
  let last = Date.now();
  const consumer = system.transport.consumer({ groupId: `test-reader-${randomUUID()}`, topics: [topic], autoOffsetReset: 'earliest' });
  await consumer.connect();
  await consumer.run(async (batch) => {
    for (const r of batch.records) {
      if (isMarker(r) || r.value === null) continue;
      out.push(await serde.deserialize(topic, r.value));
      last = Date.now();
    }
  });
  while (Date.now() - last < quietMs) await new Promise((r) => setTimeout(r, 50));
  await consumer.disconnect();
  return out;
}
