/**
 * The payment processor: idempotent payment requests in the topology, gateway calls in the
 * charger sidecar. Env (besides processors/common/process.ts): PG_URL, PG_TIMEOUT_MS, PG_RETRIES,
 * PG_BREAKER_THRESHOLD, PG_BREAKER_COOLDOWN_MS, PAYMENT_CONCURRENCY (see sidecar.ts);
 * PAYMENT_PENDING_RESEND_MS (default 30000, 0 never): a request still PENDING this long after it
 * was sent to the charger is sent again (topology.ts); ORDER_RETENTION_MS (default 7 days, 0 for
 * ever): how long the payments of an ended order are kept (topology.ts).
 */
import { numberFromEnv, type ProcessorSpec } from '../common/index.ts';
import { paymentSidecar } from './sidecar.ts';
import { DEFAULT_PENDING_RESEND_MS, paymentTopology } from './topology.ts';
import { retentionFromEnv } from '../common/retention.ts';

export {
  paymentTopology, internalTopic, paymentKey, validateRequest, PAYMENTS_STORE, RESENDS_STORE, PAYMENT_EXPIRIES_STORE, PG_REQUESTS, PG_RESULTS, FAILURE_REASON_HEADER,
  DEFAULT_PENDING_RESEND_MS, type PaymentTopologyOptions, type PaymentEntry, type PaymentKind, type PaymentRequest,
} from './topology.ts';
export { startCharger, settle, type ChargerOptions, ChargerError } from './charger.ts';
export { paymentSidecar } from './sidecar.ts';
export { PgClient, type PgClientOptions, type ChargeResult, type RefundResult } from './pg-client.ts';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.ts';
export { startPgSimulator, pgConfigFromEnv, DEFAULT_PG_CONFIG, PgConfigError, type PgSimulator, type PgSimulatorConfig } from './pg-simulator.ts';
export * from './pg-protocol.ts';
export * from './errors.ts';

export const paymentSpec: ProcessorSpec = {
  name: 'payment',
  topics: ['payment-request-topic', 'payment-success-topic', 'payment-refund-topic', 'order-status-topic'],
  topology: (contracts, env) => paymentTopology(contracts, {
    pendingResendMs: numberFromEnv(env, 'PAYMENT_PENDING_RESEND_MS', DEFAULT_PENDING_RESEND_MS),
    retention: retentionFromEnv(env),
  }),
  sidecar: paymentSidecar,
};
