import { KafkaTransport } from '../../transports/index.ts';
import { brokerRestartSuite } from './broker-restart-suite.ts';

brokerRestartSuite({
  name: 'kafka',
  make: (env) => new KafkaTransport({ brokers: env.KAFKA_BROKERS!.split(','), sessionTimeoutMs: 6000, logLevel: process.env.ORDERSTREAM_DEBUG === 'kafka' ? 'error' : 'nothing' }),
});
