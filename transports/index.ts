/**
 * Chooses a transport by configuration: the same topology runs on any of them.
 *   TRANSPORT=memory|kafka|rabbit   KAFKA_BROKERS=host:port,...   RABBIT_URL=amqp://...
 */
import { KafkaTransport, type KafkaTransportOptions } from './kafka/index.ts';
import { MemoryTransport, type MemoryTransportOptions } from './memory/index.ts';
import { RabbitTransport, type RabbitTransportOptions } from './rabbit/index.ts';
import type { Transport, TransportName } from './types.ts';

export type TransportConfig =
  | ({ readonly transport: 'memory' } & MemoryTransportOptions)
  | ({ readonly transport: 'kafka' } & KafkaTransportOptions)
  | ({ readonly transport: 'rabbit' } & RabbitTransportOptions);

export function createTransport(config: TransportConfig): Transport {
  switch (config.transport) {
    case 'memory': return new MemoryTransport(config);
    case 'kafka': return new KafkaTransport(config);
    case 'rabbit': return new RabbitTransport(config);
  }
}

export function transportConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TransportConfig {
  const name = (env.TRANSPORT ?? 'memory') as TransportName;
  switch (name) {
    case 'memory': return { transport: 'memory' };
    case 'kafka': return { transport: 'kafka', brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()) };
    case 'rabbit': return { transport: 'rabbit', url: env.RABBIT_URL ?? 'amqp://guest:guest@127.0.0.1:5672', managementUrl: env.RABBIT_MANAGEMENT_URL };
    default: throw new Error(`TRANSPORT must be memory, kafka or rabbit, not ${JSON.stringify(name)}`);
  }
}

export * from './types.ts';
export * from './errors.ts';
export { partitionForKey, murmur2 } from './partitioner.ts';
export { MemoryTransport, MemoryBroker, MemoryConsumer } from './memory/index.ts';
export { KafkaTransport } from './kafka/index.ts';
export { RabbitTransport } from './rabbit/index.ts';
