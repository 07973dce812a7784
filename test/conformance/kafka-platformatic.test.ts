import { PlatformaticKafkaTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashableProcess } from './crashable.ts';
import { conformance } from './suite.ts';

const brokers = endpoints().kafkaBrokers;

conformance({
  name: 'kafka-platformatic',
  make: () => new PlatformaticKafkaTransport({ brokers, sessionTimeoutMs: 6000 }),
  makeUnreachable: () => new PlatformaticKafkaTransport({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 1000 }),
  crashable: (spec) => crashableProcess({ TRANSPORT: 'kafka', KAFKA_CLIENT: 'platformatic', KAFKA_BROKERS: brokers.join(',') }, spec),
});
