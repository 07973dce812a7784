import test from 'ava';
import { transportConfigFromEnv } from './index.ts';

test('TRANSPORT picks the transport; memory takes its retention from MEMORY_RETENTION_MS, 0 keeping everything', (t) => {
  t.deepEqual(transportConfigFromEnv({}), { transport: 'memory' });
  t.deepEqual(transportConfigFromEnv({ MEMORY_RETENTION_MS: '60000' }), { transport: 'memory', retentionMs: 60_000 });
  t.deepEqual(transportConfigFromEnv({ MEMORY_RETENTION_MS: '0' }), { transport: 'memory', retentionMs: Infinity });
  t.throws(() => transportConfigFromEnv({ MEMORY_RETENTION_MS: 'soon' }), { message: /MEMORY_RETENTION_MS must be a number of milliseconds/ });
  t.throws(() => transportConfigFromEnv({ TRANSPORT: 'carrier-pigeon' }), { message: /TRANSPORT must be memory, kafka or rabbit/ });
});

test('KAFKA_COMPACTED_TOPIC_CONFIG reaches the Kafka transport as compacted-topic config', (t) => {
  t.deepEqual(transportConfigFromEnv({ TRANSPORT: 'kafka', KAFKA_BROKERS: 'a:1,b:2', KAFKA_COMPACTED_TOPIC_CONFIG: 'segment.ms=60000' }),
    { transport: 'kafka', brokers: ['a:1', 'b:2'], compactedTopicConfig: { 'segment.ms': '60000' } });
  t.deepEqual(transportConfigFromEnv({ TRANSPORT: 'kafka' }), { transport: 'kafka', brokers: ['127.0.0.1:9092'] });
});
