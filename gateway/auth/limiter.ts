/**
 * Login attempts limited per account and per client address (rate-limiter-flexible, in memory:
 * per gateway instance, which bounds a brute force by instances × limit). A failed attempt costs
 * a point of both; a success clears the account's count (not the address's: one good password
 * must not reset a spray across accounts). Only failures count, so many people behind one
 * address who know their passwords are never locked out. Over a limit → 429 with Retry-After,
 * even for the right password.
 */
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { tooManyRequests } from '../errors.ts';

export interface LoginLimits {
  /** Failed attempts per account within `windowSeconds`. */
  readonly perAccount: number;
  /** Failed attempts per client address within `windowSeconds`. */
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

  /** Throws 429 when either limit is spent. */
  async admit(email: string, address: string): Promise<void> {
    for (const res of [await this.#account.get(email.toLowerCase()), await this.#address.get(address)]) {
      if (res && res.remainingPoints <= 0) throw blocked(res);
    }
  }

  async failed(email: string, address: string): Promise<void> {
    await Promise.all([this.#account.penalty(email.toLowerCase(), 1), this.#address.penalty(address, 1)]);
  }

  async succeeded(email: string): Promise<void> {
    await this.#account.delete(email.toLowerCase());
  }
}

function blocked(res: RateLimiterRes) {
  return tooManyRequests('too many login attempts; try again later', Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
}
