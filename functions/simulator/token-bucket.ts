/**
 * The token bucket the simulator's rate limits share: `perSecond` tokens
 * refill continuously up to `burst`; each admitted request takes one.
 */

/** A rate limit: refill per second, bucket size, and the Retry-After its refusals carry. */
export interface RateLimitOptions {
  perSecond: number;
  burst: number;
  retryAfterSeconds: number;
}

/** One bucket, full at the start. */
export class TokenBucket {
  #tokens: number;
  #refilledAt: number;

  constructor(
    private readonly limit: Pick<RateLimitOptions, 'perSecond' | 'burst'>,
    now: number,
  ) {
    this.#tokens = limit.burst;
    this.#refilledAt = now;
  }

  /** Refills the bucket for the time elapsed up to `now` (milliseconds), then takes one token if there is one. */
  take(now: number): boolean {
    const { perSecond, burst } = this.limit;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * perSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
