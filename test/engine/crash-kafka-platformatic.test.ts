// The SIGKILL crash suite with the workers on the @platformatic/kafka client.
import { PlatformaticKafkaTransport } from '../../transports/kafka-platformatic/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashSuite } from './crash-suite.ts';

const brokers = endpoints().kafkaBrokers;
crashSuite({
  name: 'kafka-platformatic',
  make: () => new PlatformaticKafkaTransport({ brokers, sessionTimeoutMs: 6000 }),
  env: { TRANSPORT: 'kafka', KAFKA_CLIENT: 'platformatic', KAFKA_BROKERS: brokers.join(',') },
});
