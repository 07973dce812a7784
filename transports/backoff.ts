/**
 * Reconnection back-off: exponential, bounded and jittered, so that a fleet of clients that lost
 * one broker does not knock on it in lockstep when it comes back. Used by both broker transports
 * (the Kafka consumer imports it from here).
 */

export interface ReconnectOptions {
  /** First wait after a lost connection (default 200 ms). */
  readonly initialDelayMs?: number;
  /** Largest wait between attempts (default 5 s). */
  readonly maxDelayMs?: number;
  /** Growth of the wait per failed attempt (default 2). */
  readonly multiplier?: number;
  /** Each wait is drawn from ±jitter of its nominal value (default 0.2, i.e. ±20 %). */
  readonly jitter?: number;
  /**
   * How long a consumer keeps trying before it gives up and `stopped()` rejects with the last
   * (retriable) error, so that its supervisor can act (default 5 min; Infinity: forever).
   */
  readonly maxElapsedMs?: number;
}

export const RECONNECT_DEFAULTS: Required<ReconnectOptions> = {
  initialDelayMs: 200, maxDelayMs: 5000, multiplier: 2, jitter: 0.2, maxElapsedMs: 300_000,
};

/** The wait before attempt `attempt` (1-based), with jitter drawn from `random`. */
export function backoffDelay(attempt: number, options: ReconnectOptions = {}, random: () => number = Math.random): number {
  const o = { ...RECONNECT_DEFAULTS, ...options };
  const nominal = Math.min(o.maxDelayMs, o.initialDelayMs * o.multiplier ** Math.max(0, attempt - 1));
  return Math.max(0, Math.round(nominal * (1 + o.jitter * (2 * random() - 1))));
}

/** One outage: counts attempts and says when to give up. */
export class Backoff {
  private attempt = 0;
  private readonly since = Date.now();

  constructor(private readonly options: ReconnectOptions = {}) {}

  /** The wait before the next attempt. */
  next(): number {
    return backoffDelay(++this.attempt, this.options);
  }

  get attempts(): number {
    return this.attempt;
  }

  /** True once the outage has lasted longer than `maxElapsedMs`. */
  exhausted(): boolean {
    return Date.now() - this.since > (this.options.maxElapsedMs ?? RECONNECT_DEFAULTS.maxElapsedMs);
  }
}
