import test from 'ava';
import { parseTopicConfig, topicConfigEntries } from './topic-config.ts';

test('compacted topics get cleanup.policy=compact and the extra compacted config; others only their retention', (t) => {
  const options = { compactedTopicConfig: { 'segment.ms': '60000' } };
  t.deepEqual(topicConfigEntries({ name: 'c', partitions: 1, compacted: true }, options), [
    { name: 'cleanup.policy', value: 'compact' }, { name: 'segment.ms', value: '60000' },
  ]);
  t.deepEqual(topicConfigEntries({ name: 'w', partitions: 1, retentionMs: 5000 }, options), [{ name: 'retention.ms', value: '5000' }]);
  t.deepEqual(topicConfigEntries({ name: 'w', partitions: 1 }, {}), []);
});

test('KAFKA_COMPACTED_TOPIC_CONFIG reads name=value pairs and names a malformed one', (t) => {
  t.deepEqual(parseTopicConfig('segment.ms=60000, delete.retention.ms=120000'), { 'segment.ms': '60000', 'delete.retention.ms': '120000' });
  t.is(parseTopicConfig(undefined), undefined);
  t.is(parseTopicConfig(' '), undefined);
  t.throws(() => parseTopicConfig('segment.ms'), { message: /KAFKA_COMPACTED_TOPIC_CONFIG: "segment.ms" is not name=value/ });
  t.throws(() => parseTopicConfig('segment.ms=1,=2'), { message: /"=2"/ });
});
