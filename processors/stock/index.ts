/** The stock processor as a process: reserves and releases stock per order line. */
import type { ProcessorSpec } from '../common/index.ts';
import { stockTopology } from './topology.ts';
import { retentionFromEnv } from '../common/retention.ts';

export const stockSpec: ProcessorSpec = {
  name: 'stock',
  topics: ['order-created', 'stock-levels-topic', 'stock-release-topic', 'stock-response-topic', 'order-status-topic'],
  /** ORDER_RETENTION_MS (default 7 days, 0 for ever): how long the reservations of an ended order are kept (retention.ts). */
  topology: (contracts, env) => stockTopology(contracts, { retention: retentionFromEnv(env) }),
};

export * from './topology.ts';
