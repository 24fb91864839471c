/**
 * The simulator's window rate limits: "N upgrades per W seconds", counted in
 * fixed windows (the count starts again at every multiple of W since the
 * simulator started) or in a sliding window (at most N upgrades in any W
 * seconds). An upgrade over the limit is refused with 429 and a Retry-After:
 * the whole seconds until one would pass again, unless a fixed value is set.
 * Pure: the caller gives the monotonic time in milliseconds.
 */

/** A window limit: `count` upgrades per `seconds`, fixed or sliding. */
export interface WindowLimit {
  kind: 'fixed' | 'sliding';
  count: number;
  seconds: number;
  /** Retry-After sent with every refusal; when absent, the whole seconds until an upgrade would pass again. */
  retryAfterSeconds?: number;
}

/** What the window says about one upgrade: let it through, or refuse it with a Retry-After in seconds. */
export type WindowDecision = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/** One window limit's state: the upgrades it let through, by time. */
export class UpgradeWindow {
  /** Start of the current fixed window, or the times of the upgrades let through within the sliding one. */
  #windowStart: number;
  #inFixedWindow = 0;
  readonly #admitted: number[] = [];

  /** @param startedAt monotonic milliseconds when the simulator started: the first fixed window starts then */
  constructor(
    private readonly limit: WindowLimit,
    startedAt: number,
  ) {
    this.#windowStart = startedAt;
  }

  /** Decides one upgrade at `now` (monotonic milliseconds), counting it when it is let through. */
  admit(now: number): WindowDecision {
    const windowMs = this.limit.seconds * 1000;
    let freeAt: number;
    if (this.limit.kind === 'fixed') {
      const passed = Math.floor((now - this.#windowStart) / windowMs);
      if (passed > 0) {
        this.#windowStart += passed * windowMs;
        this.#inFixedWindow = 0;
      }
      freeAt = this.#windowStart + windowMs;
      if (this.#inFixedWindow < this.limit.count) {
        this.#inFixedWindow += 1;
        return { admitted: true };
      }
    } else {
      while (this.#admitted.length > 0 && (this.#admitted[0] ?? 0) <= now - windowMs) this.#admitted.shift();
      if (this.#admitted.length < this.limit.count) {
        this.#admitted.push(now);
        return { admitted: true };
      }
      freeAt = (this.#admitted[0] ?? now) + windowMs;
    }
    return {
      admitted: false,
      retryAfterSeconds: this.limit.retryAfterSeconds ?? Math.max(1, Math.ceil((freeAt - now) / 1000)),
    };
  }
}
