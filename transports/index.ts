/**
 * Chooses a transport by configuration: the same topology runs on any of them.
 *   TRANSPORT=memory|kafka|rabbit   KAFKA_BROKERS=host:port,...   RABBIT_URL=amqp://...
 *   KAFKA_CLIENT=kafkajs|platformatic   which client the Kafka transport runs on (default kafkajs)
 *   KAFKA_COMPACTED_TOPIC_CONFIG=name=value,...   extra config of the compacted topics it creates (changelogs)
 *   MEMORY_RETENTION_MS=ms   the embedded broker's retention of topics not compacted (default 1 h; 0 keeps all)
 */
import { KafkaTransport, type KafkaTransportOptions } from './kafka/index.ts';
import { PlatformaticKafkaTransport } from './kafka-platformatic/index.ts';
import { parseTopicConfig } from './kafka/topic-config.ts';
import { MemoryTransport, type MemoryTransportOptions } from './memory/index.ts';
import { RabbitTransport, type RabbitTransportOptions } from './rabbit/index.ts';
import type { Transport, TransportName } from './types.ts';

export type TransportConfig =
  | ({ readonly transport: 'memory' } & MemoryTransportOptions)
  | ({ readonly transport: 'kafka'; readonly client?: KafkaClientName } & KafkaTransportOptions)
  | ({ readonly transport: 'rabbit' } & RabbitTransportOptions);

export function createTransport(config: TransportConfig): Transport {
  switch (config.transport) {
    case 'memory': return new MemoryTransport(config);
    case 'kafka': return kafkaTransport(config, config.client);
    case 'rabbit': return new RabbitTransport(config);
  }
}

export type KafkaClientName = 'kafkajs' | 'platformatic';

/** The client the Kafka transport runs on: `KAFKA_CLIENT=kafkajs|platformatic`, default kafkajs. */
export function kafkaClientFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaClientName {
  const c = env.KAFKA_CLIENT ?? 'kafkajs';
  if (c !== 'kafkajs' && c !== 'platformatic') throw new Error(`KAFKA_CLIENT must be kafkajs or platformatic, not ${JSON.stringify(c)}`);
  return c;
}

/**
 * The one place a Kafka transport is made: on KafkaJS or @platformatic/kafka (`client`, default
 * from KAFKA_CLIENT). Options the other client lacks are ignored by it.
 */
export function kafkaTransport(options: KafkaTransportOptions, client: KafkaClientName = kafkaClientFromEnv()): Transport {
  return client === 'platformatic' ? new PlatformaticKafkaTransport(options) : new KafkaTransport(options);
}

export function transportConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TransportConfig {
  const name = (env.TRANSPORT ?? 'memory') as TransportName;
  switch (name) {
    case 'memory': return { transport: 'memory', ...memoryRetentionFromEnv(env) };
    case 'kafka': {
      const compactedTopicConfig = parseTopicConfig(env.KAFKA_COMPACTED_TOPIC_CONFIG);
      return { transport: 'kafka', brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()), ...(compactedTopicConfig ? { compactedTopicConfig } : {}) };
    }
    case 'rabbit': return { transport: 'rabbit', url: env.RABBIT_URL ?? 'amqp://guest:guest@127.0.0.1:5672', managementUrl: env.RABBIT_MANAGEMENT_URL };
    default: throw new Error(`TRANSPORT must be memory, kafka or rabbit, not ${JSON.stringify(name)}`);
  }
}

/** `MEMORY_RETENTION_MS`: how long the embedded broker keeps records of topics that are not compacted; 0 keeps them. */
function memoryRetentionFromEnv(env: NodeJS.ProcessEnv): { retentionMs?: number } {
  const raw = env.MEMORY_RETENTION_MS;
  if (raw === undefined || raw === '') return {};
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`MEMORY_RETENTION_MS must be a number of milliseconds (0 keeps every record), not ${JSON.stringify(raw)}`);
  return { retentionMs: ms === 0 ? Infinity : ms };
}

export * from './types.ts';
export * from './errors.ts';
export { partitionForKey, murmur2 } from './partitioner.ts';
export { MemoryTransport, MemoryBroker, MemoryConsumer } from './memory/index.ts';
export { KafkaTransport } from './kafka/index.ts';
export { PlatformaticKafkaTransport } from './kafka-platformatic/index.ts';
export { RabbitTransport } from './rabbit/index.ts';
