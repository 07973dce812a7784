/**
 * The delivery processor as a process. DELIVERY_FAILURE_RATE (default 0.05) and DELIVERY_SEED
 * (default 'delivery') decide which requests fail, deterministically. ORDER_RETENTION_MS (default
 * 7 days, 0 for ever): how long the answer of an ended order is kept (topology.ts).
 */
import { numberFromEnv, type Env, type ProcessorSpec } from '../common/index.ts';
import { deliveryTopology, type DeliveryOptions } from './topology.ts';
import { retentionFromEnv } from '../common/retention.ts';

export const DEFAULT_DELIVERY_FAILURE_RATE = 0.05;
export const DEFAULT_DELIVERY_SEED = 'delivery';

export function deliveryOptionsFromEnv(env: Env): DeliveryOptions {
  const failureRate = numberFromEnv(env, 'DELIVERY_FAILURE_RATE', DEFAULT_DELIVERY_FAILURE_RATE);
  if (!(failureRate >= 0 && failureRate <= 1)) throw new Error(`DELIVERY_FAILURE_RATE must be a number in [0, 1], not ${JSON.stringify(env.DELIVERY_FAILURE_RATE)}`);
  const seed = env.DELIVERY_SEED === undefined || env.DELIVERY_SEED === '' ? DEFAULT_DELIVERY_SEED : env.DELIVERY_SEED;
  return { failureRate, seed };
}

export const deliverySpec: ProcessorSpec = {
  name: 'delivery',
  topics: ['delivery-request-topic', 'delivery-start-topic', 'order-status-topic'],
  topology: (contracts, env) => deliveryTopology(contracts, deliveryOptionsFromEnv(env), retentionFromEnv(env)),
};

export * from './topology.ts';
