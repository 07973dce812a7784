/**
 * The payment gateway client: one charge or refund per order, made safe to retry. Every attempt
 * has a timeout; network errors, timeouts and 5xx are retried with exponential back-off and full
 * jitter, always with the same idempotency key (`charge:<orderId>`, `refund:<orderId>`), so a
 * retry — or a whole redelivered request — can never take the money twice. A decline (402) and
 * other 4xx are answers, never retried. A circuit breaker stops calling a gateway that keeps
 * failing and fails fast with CircuitOpenError instead.
 *
 * An attempt that timed out or lost its connection has an unknown outcome: the gateway may have
 * captured the money and only the answer was lost. Before such an attempt counts as failed, the
 * client looks the idempotency key up (`GET /v1/payments/<key>`): a settled request gives its
 * answer (so a charge that went through is a success, not a failure and not a second charge);
 * a key the gateway does not know (or still processing) goes on to the next retry with the same
 * key, and past the last one fails as before, with what the lookup said in the reason. When the
 * lookup cannot answer either, the outcome stays unknown: PgOutcomeUnknownError, which the
 * charger does not report as FAILED (the request is re-sent later instead).
 */
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.ts';
import {
  CircuitOpenError, PgAbortedError, PgOutcomeUnknownError, PgProtocolError, PgRejectedError, PgUnavailableError, type PgOperation,
} from './errors.ts';
import {
  IDEMPOTENCY_HEADER, PG_PATHS, type PgChargeCaptured, type PgErrorBody, type PgLookup, type PgPaymentBody, type PgRefunded,
} from './pg-protocol.ts';

export interface PgClientOptions {
  /** e.g. http://127.0.0.1:8090 */
  readonly baseUrl: string;
  /** Per attempt, including reading the answer. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Attempts after the first. Default 2. */
  readonly retries?: number;
  /** First back-off ceiling; doubles per retry up to `backoffMaxMs`. Default 100 ms. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** A breaker shared with other clients, or options for a new one. */
  readonly breaker?: CircuitBreaker | CircuitBreakerOptions;
  /** Jitter source. Default Math.random. */
  readonly random?: () => number;
  /** Look the key up after an attempt with an unknown outcome (timeout, connection lost). Default true. */
  readonly reconcile?: boolean;
}

export type ChargeResult =
  | { readonly outcome: 'CAPTURED'; readonly chargeId: string; readonly amount: number }
  | { readonly outcome: 'DECLINED'; readonly reason: string };

export interface RefundResult {
  readonly outcome: 'REFUNDED';
  readonly refundId: string;
  readonly amount: number;
}

/** An answer below 500: the gateway is up and has decided. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export class PgClient {
  readonly breaker: CircuitBreaker;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;
  private readonly reconcile: boolean;

  constructor(options: PgClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.retries = options.retries ?? 2;
    this.backoffBaseMs = options.backoffBaseMs ?? 100;
    this.backoffMaxMs = options.backoffMaxMs ?? 2000;
    this.random = options.random ?? Math.random;
    this.reconcile = options.reconcile ?? true;
    this.breaker = options.breaker instanceof CircuitBreaker ? options.breaker : new CircuitBreaker(options.breaker);
    if (!(this.retries >= 0)) throw new RangeError(`retries must not be negative, not ${this.retries}`);
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, not ${this.timeoutMs}`);
  }

  circuitState(): CircuitState {
    return this.breaker.state();
  }

  /**
   * Captures the amount, or learns that it is declined. Throws PgUnavailableError (retries spent;
   * PgOutcomeUnknownError when an attempt may have reached the gateway and no lookup could tell),
   * CircuitOpenError, PgRejectedError (another 4xx), PgAbortedError (`signal` aborted).
   */
  async charge(body: PgPaymentBody, signal?: AbortSignal): Promise<ChargeResult> {
    const { status, body: answer } = await this.call('charge', PG_PATHS.charges, `charge:${body.orderId}`, body, signal);
    if (status === 200 && isCaptured(answer)) return { outcome: 'CAPTURED', chargeId: answer.chargeId, amount: answer.amount };
    if (status === 402) return { outcome: 'DECLINED', reason: reasonOf(answer) };
    if (status >= 400) throw new PgRejectedError('charge', body.orderId, status, reasonOf(answer));
    throw new PgProtocolError('charge', body.orderId, `HTTP ${status} ${JSON.stringify(answer)}`);
  }

  /** Refunds the order's captured charge. Throws as `charge`; 404 (nothing captured) is a PgRejectedError. */
  async refund(body: PgPaymentBody, signal?: AbortSignal): Promise<RefundResult> {
    const { status, body: answer } = await this.call('refund', PG_PATHS.refunds, `refund:${body.orderId}`, body, signal);
    if (status === 200 && isRefunded(answer)) return { outcome: 'REFUNDED', refundId: answer.refundId, amount: answer.amount };
    if (status >= 400) throw new PgRejectedError('refund', body.orderId, status, reasonOf(answer));
    throw new PgProtocolError('refund', body.orderId, `HTTP ${status} ${JSON.stringify(answer)}`);
  }

  /**
   * What the gateway holds for an idempotency key (`charge:<orderId>`, `refund:<orderId>`). Outside
   * the circuit breaker: it is asked after failures, when the breaker may be about to open, and
   * its own failures say nothing about the payment. Throws PgUnavailableError when it gets no
   * usable answer, PgAbortedError when `signal` aborts.
   */
  async lookup(op: PgOperation, orderId: string, signal?: AbortSignal): Promise<PgLookup> {
    const key = `${op}:${orderId}`;
    const deadline = attemptSignal(signal, this.timeoutMs);
    try {
      const response = await fetch(`${this.baseUrl}${PG_PATHS.payments}/${encodeURIComponent(key)}`, { signal: deadline.signal });
      const body = parseJson(await response.text());
      if ((response.status === 200 || response.status === 404) && isLookup(body, key)) return body;
      throw new PgUnavailableError(op, orderId, 1, `lookup answered HTTP ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
    } catch (e) {
      if (signal?.aborted) throw new PgAbortedError(op, orderId);
      if (e instanceof PgUnavailableError) throw e;
      throw new PgUnavailableError(op, orderId, 1, isTimeout(e) ? `lookup: no answer within ${this.timeoutMs} ms` : `lookup: network error: ${describe(e)}`, { cause: e });
    } finally {
      deadline.clear();
    }
  }

  private async call(op: PgOperation, path: string, key: string, body: PgPaymentBody, signal: AbortSignal | undefined): Promise<Answer> {
    let lastFailure = 'no attempt made';
    let lastCause: unknown;
    /** An attempt may have been done at the gateway and nothing since has told whether it was. */
    let unknown = false;
    const spent = (attempts: number, failure: string, cause?: unknown) => {
      const options = cause === undefined ? undefined : { cause };
      return unknown ? new PgOutcomeUnknownError(op, body.orderId, attempts, failure, options) : new PgUnavailableError(op, body.orderId, attempts, failure, options);
    };
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (signal?.aborted) throw new PgAbortedError(op, body.orderId);
      const permit = this.breaker.acquire();
      if (!permit) {
        if (unknown) throw spent(attempt, `${lastFailure}; then the circuit opened`, lastCause);
        throw new CircuitOpenError(op, body.orderId, this.breaker.retryAfterMs());
      }
      const deadline = attemptSignal(signal, this.timeoutMs);
      try {
        const response = await fetch(`${this.baseUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [IDEMPOTENCY_HEADER]: key },
          body: JSON.stringify({ orderId: body.orderId, paymentKey: body.paymentKey, amount: body.amount }),
          signal: deadline.signal,
        });
        const text = await response.text();
        if (response.status >= 500) {
          permit.failure();
          lastFailure = `HTTP ${response.status} ${text.slice(0, 200)}`;
          lastCause = undefined;
        } else {
          permit.success();
          return { status: response.status, body: parseJson(text) };
        }
      } catch (e) {
        if (signal?.aborted) {
          permit.release();
          throw new PgAbortedError(op, body.orderId);
        }
        permit.failure();
        lastCause = e;
        lastFailure = isTimeout(e) ? `no answer within ${this.timeoutMs} ms` : `network error: ${describe(e)}`;
        // The request may have been done with only the answer lost: the gateway's record tells.
        if (this.reconcile) {
          const settled = await this.settledAnswer(op, body.orderId, signal);
          if ('status' in settled) return settled;
          lastFailure += `; ${settled.reason}`;
          unknown = settled.unknown;
        } else {
          unknown = false;
        }
      } finally {
        deadline.clear();
      }
      if (attempt < this.retries) await this.backoff(attempt, signal, op, body.orderId);
    }
    throw spent(this.retries + 1, lastFailure, lastCause);
  }

  /**
   * The answer a settled request got, or what the lookup said instead: nothing there (the
   * attempt did nothing: a retry may go ahead, a failure may be reported), or no knowledge
   * (the lookup failed, or the request is still being processed).
   */
  private async settledAnswer(op: PgOperation, orderId: string, signal: AbortSignal | undefined): Promise<Answer | { reason: string; unknown: boolean }> {
    let found: PgLookup;
    try {
      found = await this.lookup(op, orderId, signal);
    } catch (e) {
      if (e instanceof PgAbortedError) throw e;
      return { reason: `outcome unknown (${e instanceof Error ? e.message : String(e)})`, unknown: true };
    }
    if (found.state === 'SETTLED') return { status: found.status, body: found.result };
    if (found.state === 'PROCESSING') return { reason: 'outcome unknown (the gateway is still processing it)', unknown: true };
    return { reason: 'the gateway has no record of it', unknown: false };
  }

  /** Full jitter: a uniform wait up to the exponential ceiling, so retrying callers spread out. */
  private async backoff(attempt: number, signal: AbortSignal | undefined, op: PgOperation, orderId: string): Promise<void> {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt);
    const ms = this.random() * ceiling;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
    if (signal?.aborted) throw new PgAbortedError(op, orderId);
  }
}

/**
 * The caller's signal or the attempt's timeout, whichever comes first. A plain timer, not
 * AbortSignal.any([signal, AbortSignal.timeout()]): on Node 20 the combined signal can lose its
 * timeout to garbage collection, and a call to a gateway that never answers then hangs for good
 * (seen here: silent charges whose attempts never timed out under GC pressure).
 */
function attemptSignal(signal: AbortSignal | undefined, ms: number): { readonly signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

function isCaptured(b: unknown): b is PgChargeCaptured {
  const o = b as Partial<PgChargeCaptured> | null;
  return typeof o === 'object' && o !== null && o.status === 'CAPTURED' && typeof o.chargeId === 'string' && typeof o.amount === 'number';
}

function isRefunded(b: unknown): b is PgRefunded {
  const o = b as Partial<PgRefunded> | null;
  return typeof o === 'object' && o !== null && o.status === 'REFUNDED' && typeof o.refundId === 'string' && typeof o.amount === 'number';
}

function isLookup(b: unknown, key: string): b is PgLookup {
  const o = b as Partial<PgLookup> | null;
  if (typeof o !== 'object' || o === null || o.key !== key) return false;
  if (o.state === 'SETTLED') return typeof (o as { status?: unknown }).status === 'number';
  return o.state === 'PROCESSING' || o.state === 'NOT_FOUND';
}

function reasonOf(b: unknown): string {
  const reason = (b as Partial<PgErrorBody> | null)?.reason;
  return typeof reason === 'string' ? reason : JSON.stringify(b);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isTimeout(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'TimeoutError';
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // fetch reports "fetch failed" and puts the socket error in `cause`.
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${e.message}${cause}`;
}
