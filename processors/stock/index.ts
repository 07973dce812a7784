/** The stock processor as a process: reserves and releases stock per order line. */
import type { ProcessorSpec } from '../common/index.ts';
import { stockTopology } from './topology.ts';

export const stockSpec: ProcessorSpec = {
  name: 'stock',
  topics: ['order-created', 'stock-levels-topic', 'stock-release-topic', 'stock-response-topic'],
  topology: (contracts) => stockTopology(contracts),
};

export * from './topology.ts';
