import { RabbitTransport } from '../../transports/index.ts';
import { brokerRestartSuite } from './broker-restart-suite.ts';

brokerRestartSuite({
  name: 'rabbit',
  make: (env) => new RabbitTransport({ url: env.RABBIT_URL!, managementUrl: env.RABBIT_MANAGEMENT_URL }),
});
