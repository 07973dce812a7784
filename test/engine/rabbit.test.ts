import { RabbitTransport } from '../../transports/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { engineSuite } from './suite.ts';

const { rabbitUrl, rabbitManagementUrl } = endpoints();
for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  engineSuite({ name: 'rabbit', guarantee, make: () => new RabbitTransport({ url: rabbitUrl, managementUrl: rabbitManagementUrl }) });
}
