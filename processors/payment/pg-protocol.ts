/**
 * The payment gateway's HTTP API as both sides see it: paths, bodies and the idempotency header.
 * The simulator serves it and the client calls it; neither spells a path or a field on its own.
 *
 *   POST /v1/charges  {orderId, paymentKey, amount} + Idempotency-Key
 *        200 {chargeId, status: 'CAPTURED', amount} | 402 {status: 'DECLINED', reason}
 *        400 invalid | 409 key reused for another request | 503 try again | (no answer: timeout)
 *   POST /v1/refunds  {orderId, paymentKey, amount} + Idempotency-Key
 *        200 {refundId, status: 'REFUNDED', amount} | 404 no captured charge | 422 more than captured
 *   GET  /v1/stats    PgStats       POST /v1/config  Partial<PgRuntimeConfig>      POST /v1/reset
 */

export const PG_PATHS = {
  charges: '/v1/charges',
  refunds: '/v1/refunds',
  stats: '/v1/stats',
  config: '/v1/config',
  reset: '/v1/reset',
} as const;

/** One key per operation and order: a retry or a redelivered request reuses it and cannot charge twice. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export interface PgPaymentBody {
  readonly orderId: string;
  readonly paymentKey: string;
  /** Minor currency units, a positive integer. */
  readonly amount: number;
}

export interface PgChargeCaptured {
  readonly chargeId: string;
  readonly status: 'CAPTURED';
  readonly amount: number;
}

export interface PgRefunded {
  readonly refundId: string;
  readonly status: 'REFUNDED';
  readonly amount: number;
}

/** Every non-2xx answer carries a reason; 402 also `status: 'DECLINED'`. */
export interface PgErrorBody {
  readonly status?: 'DECLINED' | 'NOT_FOUND';
  readonly reason: string;
}

/** What can change while the gateway runs (POST /v1/config takes any subset). */
export interface PgRuntimeConfig {
  /** Each request waits a uniform draw from [min, max] ms before it is decided. */
  readonly latencyMs: readonly [number, number];
  /** Share of orders declined, decided by `chance(seed, orderId)`: the same orders on every run. */
  readonly declineRate: number;
  /** Probability of a 503 (nothing charged), drawn per request. */
  readonly errorRate: number;
  /** Probability of never answering (nothing charged), drawn per request. */
  readonly timeoutRate: number;
  readonly seed: string;
}

export interface PgStats {
  /** Every HTTP request received, whatever its path or outcome. */
  readonly requests: number;
  /** Captures per order, whatever idempotency key asked for them: more than 1 is a double charge. */
  readonly charges: Record<string, number>;
  readonly refunds: Record<string, number>;
  readonly declines: Record<string, number>;
  /** Sum captured per order, minor units. */
  readonly chargedAmounts: Record<string, number>;
  readonly refundedAmounts: Record<string, number>;
  /** Requests answered from the idempotency store (retries, duplicates). */
  readonly replays: number;
  readonly transientErrors: number;
  readonly timeouts: number;
}
