import { KafkaTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashableProcess } from './crashable.ts';
import { conformance } from './suite.ts';

const brokers = endpoints().kafkaBrokers;

conformance({
  name: 'kafka',
  make: () => new KafkaTransport({ brokers, sessionTimeoutMs: 6000 }),
  makeUnreachable: () => new KafkaTransport({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 1000, logLevel: 'nothing' }),
  crashable: (spec) => crashableProcess({ TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(',') }, spec),
});
