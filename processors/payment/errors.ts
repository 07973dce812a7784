/**
 * Typed payment errors, each carrying the order it concerns. Gateway errors decide what the
 * charger reports (FAILED with a reason) and what it must not (a shutdown is not a failure);
 * validation errors make the engine dead-letter the request.
 */

export type PgOperation = 'charge' | 'refund';

export class PaymentError extends Error {
  constructor(message: string, readonly orderId: string | undefined, options?: { cause?: unknown }) {
    super(orderId === undefined ? message : `${message} (order ${orderId})`, options);
    this.name = new.target.name;
  }
}

/** A payment request the processor refuses: the engine sends it to the dead-letter topic. */
export class PaymentValidationError extends PaymentError {
  constructor(readonly field: string, problem: string, orderId: string | undefined) {
    super(`invalid payment request: ${field} ${problem}`, orderId);
  }
}

/**
 * A request arriving after the payment state of its order was deleted by retention (its
 * `requestedAt` is not newer than the expired ones'): a late duplicate. Not charged again — the
 * engine dead-letters it — whatever the gateway still remembers of its idempotency key.
 */
export class ExpiredPaymentRequest extends PaymentError {
  constructor(orderId: string, readonly requestedAt: number, readonly watermark: number) {
    super(`payment request of ${requestedAt} arrived after the payments of orders up to ${watermark} expired: a late duplicate, not sent to the gateway`, orderId);
  }
}

/** The gateway answered no, for good (4xx other than a decline): retrying cannot help. */
export class PgRejectedError extends PaymentError {
  constructor(readonly operation: PgOperation, orderId: string, readonly status: number, readonly reason: string) {
    super(`${operation} rejected by the gateway: HTTP ${status} ${reason}`, orderId);
  }
}

/** Every attempt failed in transport (network error, timeout, 5xx): nothing is known to be done. */
export class PgUnavailableError extends PaymentError {
  constructor(readonly operation: PgOperation, orderId: string, readonly attempts: number, readonly lastFailure: string, options?: { cause?: unknown }) {
    super(`${operation} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastFailure}`, orderId, options);
  }
}

/**
 * Every attempt failed and the last one that may have reached the gateway (a timeout, a lost
 * connection) could not be looked up either: the money may or may not have moved. Not a failure
 * to report — the request is left to be asked again later, with the same idempotency key.
 */
export class PgOutcomeUnknownError extends PgUnavailableError {}

/** The circuit breaker is open: the gateway was failing, so the call was not made. */
export class CircuitOpenError extends PaymentError {
  constructor(readonly operation: PgOperation, orderId: string, readonly retryAfterMs: number) {
    super(`${operation} not attempted: the gateway circuit is open for another ${Math.max(0, Math.round(retryAfterMs))} ms`, orderId);
  }
}

/** The caller gave up (shutdown): the outcome is unknown and must not be reported. */
export class PgAbortedError extends PaymentError {
  constructor(readonly operation: PgOperation, orderId: string) {
    super(`${operation} aborted by the caller`, orderId);
  }
}

/** A gateway answer that does not follow its API: a bug on one side, not a payment outcome. */
export class PgProtocolError extends PaymentError {
  constructor(readonly operation: PgOperation, orderId: string, detail: string) {
    super(`${operation}: unexpected gateway answer: ${detail}`, orderId);
  }
}
