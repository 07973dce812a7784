import { KafkaTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashSuite } from './crash-suite.ts';

const brokers = endpoints().kafkaBrokers;
crashSuite({ name: 'kafka', make: () => new KafkaTransport({ brokers, sessionTimeoutMs: 6000 }), env: { TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(',') } });
