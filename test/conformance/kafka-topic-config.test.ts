/** On the real broker, both Kafka clients create compacted topics with the extra compacted-topic config. */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { Kafka, type ConfigResourceTypes } from 'kafkajs';
import { kafkaTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';

const { kafkaBrokers } = endpoints();
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

for (const client of ['kafkajs', 'platformatic'] as const) {
  test(`${client}: a compacted topic gets cleanup.policy=compact and the compactedTopicConfig; another topic does not`, async (t) => {
    const id = randomUUID().slice(0, 8);
    const transport = kafkaTransport({ brokers: kafkaBrokers, compactedTopicConfig: { 'segment.ms': '60000', 'delete.retention.ms': '120000' } }, client);
    const names = [`topic-config-${id}-c`, `topic-config-${id}-w`];
    const admin = new Kafka({ brokers: [...kafkaBrokers], logLevel: 0 }).admin();
    t.teardown(async () => {
      await transport.admin().deleteTopics(names).catch(() => undefined);
      await transport.close();
      await admin.disconnect();
    });
    await transport.admin().createTopics([{ name: names[0]!, partitions: 1, kind: 'replayable', compacted: true }, { name: names[1]!, partitions: 1 }]);
    await admin.connect();
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['cleanup.policy', 'segment.ms', 'delete.retention.ms'] })),
    });
    const configs = Object.fromEntries(res.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]));
    t.like(configs[names[0]!], { 'cleanup.policy': 'compact', 'segment.ms': '60000', 'delete.retention.ms': '120000' });
    t.is(configs[names[1]!]!['cleanup.policy'], 'delete');
    t.not(configs[names[1]!]!['segment.ms'], '60000');
  });
}
