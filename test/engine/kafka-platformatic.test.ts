// The engine suite on the @platformatic/kafka client (KAFKA_CLIENT=platformatic), as on KafkaJS.
import { PlatformaticKafkaTransport } from '../../transports/kafka-platformatic/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { engineSuite } from './suite.ts';

const brokers = endpoints().kafkaBrokers;
for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  engineSuite({ name: 'kafka-platformatic', guarantee, make: () => new PlatformaticKafkaTransport({ brokers, sessionTimeoutMs: 6000 }) });
}
