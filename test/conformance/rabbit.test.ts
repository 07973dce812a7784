import { RabbitTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { crashableProcess } from './crashable.ts';
import { conformance } from './suite.ts';

const { rabbitUrl, rabbitManagementUrl } = endpoints();

conformance({
  name: 'rabbit',
  make: () => new RabbitTransport({ url: rabbitUrl, managementUrl: rabbitManagementUrl }),
  makeUnreachable: () => new RabbitTransport({ url: 'amqp://guest:guest@127.0.0.1:1', connectionTimeoutMs: 1000 }),
  crashable: (spec) => crashableProcess({ TRANSPORT: 'rabbit', RABBIT_URL: rabbitUrl, RABBIT_MANAGEMENT_URL: rabbitManagementUrl }, spec),
});
