import { MemoryTransport } from '../../transports/index.ts';
import { engineSuite } from './suite.ts';

for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
  engineSuite({ name: 'memory', guarantee, make: () => new MemoryTransport() });
}
