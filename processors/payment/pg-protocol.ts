/**
 * The payment gateway's HTTP API as both sides see it: paths, bodies and the idempotency header.
 * The simulator serves it and the client calls it; neither spells a path or a field on its own.
 *
 *   POST /v1/charges  {orderId, paymentKey, amount} + Idempotency-Key
 *        200 {chargeId, status: 'CAPTURED', amount} | 402 {status: 'DECLINED', reason}
 *        400 invalid | 409 key reused for another request | 503 try again | (no answer: timeout)
 *   POST /v1/refunds  {orderId, paymentKey, amount} + Idempotency-Key
 *        200 {refundId, status: 'REFUNDED', amount} | 404 no captured charge | 422 more than captured
 *   GET  /v1/payments/<idempotency key>   what became of a request (reconciliation after a timeout)
 *        200 PgLookup {state: 'SETTLED', status, result} | 200 {state: 'PROCESSING'} | 404 {state: 'NOT_FOUND'}
 *   GET  /v1/stats    PgStats       POST /v1/config  Partial<PgRuntimeConfig>      POST /v1/reset
 *   POST /v1/hang     PgHangRequest: the next requests with that key get no answer (tests)
 */

export const PG_PATHS = {
  charges: '/v1/charges',
  refunds: '/v1/refunds',
  stats: '/v1/stats',
  config: '/v1/config',
  reset: '/v1/reset',
  /** Prefix: `GET /v1/payments/<idempotency key, URL-encoded>`. */
  payments: '/v1/payments',
  hang: '/v1/hang',
} as const;

/**
 * What the gateway holds for an idempotency key: the final answer it gave (or would have given)
 * the request — `status` is that answer's HTTP status, `result` its body — or that the first
 * request is still being decided, or nothing (never received, or it left nothing behind: a 503,
 * a timeout before the decision).
 */
export type PgLookup =
  | { readonly key: string; readonly state: 'SETTLED'; readonly status: number; readonly result: unknown }
  | { readonly key: string; readonly state: 'PROCESSING' }
  | { readonly key: string; readonly state: 'NOT_FOUND' };

/** POST /v1/hang: the next `times` requests with `key` get no answer; `afterCharge` decides (captures) the first one before the silence. */
export interface PgHangRequest {
  readonly key: string;
  readonly times?: number;
  readonly afterCharge?: boolean;
  /** Lookups of the key go unanswered too, while the switch lasts: the outcome cannot be learnt. */
  readonly lookups?: boolean;
}

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
  /**
   * Probability of deciding the request (capturing, declining, refunding) and then never
   * answering, drawn per request: the outcome a real gateway may leave behind a dropped
   * connection. Only a lookup or a retry with the same key tells the caller.
   */
  readonly timeoutAfterChargeRate: number;
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
  /** Requests never answered, before or after their decision. */
  readonly timeouts: number;
  /** Of those, the ones decided first (the money moved, the caller does not know). */
  readonly silentOutcomes: number;
  /** GET /v1/payments/<key> requests. */
  readonly lookups: number;
}
