import { RabbitTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashSuite } from './crash-suite.ts';

const { rabbitUrl, rabbitManagementUrl } = endpoints();
crashSuite({
  name: 'rabbit',
  make: () => new RabbitTransport({ url: rabbitUrl, managementUrl: rabbitManagementUrl }),
  env: { TRANSPORT: 'rabbit', RABBIT_URL: rabbitUrl, RABBIT_MANAGEMENT_URL: rabbitManagementUrl },
});
