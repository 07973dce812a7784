/**
 * A circuit breaker for calls to one remote service. Closed, it lets calls through and counts
 * consecutive transport failures; at the threshold it opens and refuses calls for a cooldown, so a
 * gateway that is down is not hammered and callers fail fast instead of waiting out timeouts.
 * After the cooldown it is half-open: exactly one probe goes through; its success closes the
 * circuit, its failure opens it for another cooldown.
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive transport failures that open the circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit refuses calls before a probe. Default 5000 ms. */
  readonly cooldownMs?: number;
  /** The clock, for tests that move time by hand. Default Date.now. */
  readonly now?: () => number;
}

/** What `acquire` hands out: report how the attempt went, exactly once. */
export interface CircuitPermit {
  /** The service answered (any HTTP answer below 500 counts: it is up). */
  success(): void;
  /** A transport failure: network error, timeout, 5xx. */
  failure(): void;
  /** Neither: the caller gave up before an answer (shutdown); the attempt says nothing. */
  release(): void;
}

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 5000;
    this.now = options.now ?? Date.now;
    if (!(this.threshold >= 1)) throw new RangeError(`failureThreshold must be at least 1, not ${this.threshold}`);
    if (!(this.cooldownMs >= 0)) throw new RangeError(`cooldownMs must not be negative, not ${this.cooldownMs}`);
  }

  state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.cooldownMs) this.current = 'half-open';
    return this.current;
  }

  /** Milliseconds until an open circuit lets a probe through (0 when it would now). */
  retryAfterMs(): number {
    return this.current === 'open' ? Math.max(0, this.openedAt + this.cooldownMs - this.now()) : 0;
  }

  /** A permit for one attempt, or undefined when the circuit refuses it (open, or a probe is out). */
  acquire(): CircuitPermit | undefined {
    const state = this.state();
    if (state === 'open') return undefined;
    if (state === 'half-open') {
      if (this.probing) return undefined;
      this.probing = true;
      return this.permit(true);
    }
    return this.permit(false);
  }

  private permit(probe: boolean): CircuitPermit {
    let used = false;
    const once = (fn: () => void) => () => {
      if (used) return;
      used = true;
      if (probe) this.probing = false;
      fn();
    };
    return {
      success: once(() => {
        this.failures = 0;
        this.current = 'closed';
      }),
      failure: once(() => {
        this.failures++;
        // A failed probe reopens at once; a closed circuit after `threshold` failures in a row.
        if (probe || this.failures >= this.threshold) this.open();
      }),
      release: once(() => {}),
    };
  }

  private open(): void {
    this.current = 'open';
    this.openedAt = this.now();
    this.failures = 0;
  }
}
