/**
 * Login attempts limited per account and per client address (rate-limiter-flexible, in memory:
 * per gateway instance, which bounds a brute force by instances × limit). A failed attempt costs
 * a point of both; a success clears the account's count. Over the limit → 429 with Retry-After.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { tooManyRequests } from '../errors.ts';

export interface LoginLimits {
  /** Failed attempts per account within `windowSeconds`. */
  readonly perAccount: number;
  /** Attempts (failed or not) per client address within `windowSeconds`. */
  readonly perAddress: number;
  readonly windowSeconds: number;
}

export class LoginLimiter {
  readonly #account: RateLimiterMemory;
  readonly #address: RateLimiterMemory;

  constructor(limits: LoginLimits) {
    this.#account = new RateLimiterMemory({ points: limits.perAccount, duration: limits.windowSeconds, keyPrefix: 'login-account' });
    this.#address = new RateLimiterMemory({ points: limits.perAddress, duration: limits.windowSeconds, keyPrefix: 'login-address' });
  }

  /** Throws 429 when either limit is spent; counts the attempt against the address. */
  async admit(email: string, address: string): Promise<void> {
    const account = await this.#account.get(email.toLowerCase());
    if (account && account.remainingPoints <= 0) throw blocked(account);
    try {
      await this.#address.consume(address);
    } catch (e) {
      if (e instanceof RateLimiterRes) throw blocked(e);
      throw e;
    }
  }

  async failed(email: string): Promise<void> {
    await this.#account.penalty(email.toLowerCase(), 1);
  }

  async succeeded(email: string): Promise<void> {
    await this.#account.delete(email.toLowerCase());
  }
}

function blocked(res: RateLimiterRes) {
  return tooManyRequests('too many login attempts; try again later', Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
}
