import { KafkaTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { engineSuite } from './suite.ts';

const brokers = endpoints().kafkaBrokers;
for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  engineSuite({ name: 'kafka', guarantee, make: () => new KafkaTransport({ brokers, sessionTimeoutMs: 6000 }) });
}
