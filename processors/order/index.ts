/** The order processor: the saga over the order table. */
import { numberFromEnv, type ProcessorSpec } from '../common/index.ts';
import { orderTopology } from './topology.ts';
import { retentionFromEnv } from '../common/retention.ts';

export { orderTopology, ORDERS_STORE, RETRIES_STORE, DEADLINES_STORE, ORDER_EXPIRIES_STORE, USERS_STORE, type OrderTopologyOptions, type SagaForward } from './topology.ts';
export { decide, expire, NotYetApplicable, TransitionRejected, SAGA_OUTPUTS, type OrderState, type Decision, type SagaOutput, type SagaLookups, type SagaClock } from './saga.ts';
export { ORDER_STATUSES, canTransitionTo, isTerminal, type StatusInfo } from './status.ts';
export { expiresAt, isExpired, lateDuplicate } from './retention.ts';
export { ORDER_INPUTS, envelopeSerde, type OrderEvent, type SagaEnvelope } from './envelope.ts';

/**
 * Env: ORDER_PAYMENT_DEADLINE_MS (default 900000), ORDER_RETRY_MAX_ATTEMPTS (5),
 * ORDER_RETRY_BACKOFF_MS (500), ORDER_TICK_MS (100), ORDER_RETENTION_MS (7 days; 0 keeps terminal
 * orders for ever; read by stock, payment and delivery too: processors/common/retention.ts).
 */
export const orderSpec: ProcessorSpec = {
  name: 'order',
  topics: [
    'order-placed', 'order-command-topic', 'stock-response-topic', 'payment-success-topic', 'payment-refund-topic', 'delivery-start-topic', 'users-topic',
    'order-processing-topic', 'order-retry-topic', 'order-dead-letter-topic',
    'order-status-topic', 'order-created', 'stock-release-topic', 'payment-request-topic', 'delivery-request-topic', 'order-completed-topic',
  ],
  topology: (contracts, env) => orderTopology(contracts, {
    paymentDeadlineMs: numberFromEnv(env, 'ORDER_PAYMENT_DEADLINE_MS', 15 * 60_000),
    maxAttempts: numberFromEnv(env, 'ORDER_RETRY_MAX_ATTEMPTS', 5),
    retryBackoffMs: numberFromEnv(env, 'ORDER_RETRY_BACKOFF_MS', 500),
    tickMs: numberFromEnv(env, 'ORDER_TICK_MS', 100),
    retention: retentionFromEnv(env),
  }),
};
