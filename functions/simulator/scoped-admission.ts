/**
 * Caps and rate limits kept per scope, for the simulator: per source address
 * (the client's address, e.g. 127.0.0.1 and 127.0.0.2, both loopback) or per
 * value of one header (an API key). Each scope gets its own concurrency cap
 * and its own token bucket, so a second address or a second key gets a full
 * share of its own: what diagnose's limit-scope experiment must tell from a
 * global limit. Decided synchronously in the upgrade handler, so the caps
 * are exact under concurrency.
 *
 * Header values are credentials: they key the counters in memory only, and
 * the stats name each one by the order it was first seen ("key 1").
 */
import type { IncomingMessage } from 'node:http';
import { TokenBucket, type RateLimitOptions } from './token-bucket.js';

/** What a limit is kept per. */
export type AdmissionScope = { kind: 'source-address' } | { kind: 'header'; name: string };

/** The limits each scope gets. */
export interface ScopedLimitsOptions {
  scope: AdmissionScope;
  /** Open connections per scope; an upgrade beyond them is refused with `status`. */
  cap?: { limit: number; status: number };
  /** A token bucket per scope; refusals are 429 with Retry-After. */
  rateLimit?: RateLimitOptions;
}

/** The decision on one upgrade. Call `release` once when an admitted connection ends (or its upgrade fails). */
export type Admission =
  { admitted: true; release: () => void } | { admitted: false; status: number; retryAfterSeconds?: number };

/** Counters per scope, by label: the address, or "key N" for the Nth header value seen ("no key" without one). */
interface ScopedStats {
  open: Record<string, number>;
  peakOpen: Record<string, number>;
  refused: Record<string, number>;
}

interface ScopeState {
  label: string;
  open: number;
  peakOpen: number;
  refused: number;
  bucket?: TokenBucket;
}

/** The per-scope limits of one server. */
export class ScopedAdmission {
  readonly #options: ScopedLimitsOptions;
  readonly #now: () => number;
  readonly #scopes = new Map<string, ScopeState>();
  #keysSeen = 0;

  /** `now` in milliseconds (default performance.now), for the token buckets. */
  constructor(options: ScopedLimitsOptions, now: () => number = () => performance.now()) {
    this.#options = options;
    this.#now = now;
  }

  /** Decides an upgrade request: rate limit of its scope first, then the cap of its scope. */
  admit(req: IncomingMessage): Admission {
    const scope = this.#scopeOf(req);
    const { cap, rateLimit } = this.#options;
    if (rateLimit && scope.bucket && !scope.bucket.take(this.#now())) {
      scope.refused += 1;
      return { admitted: false, status: 429, retryAfterSeconds: rateLimit.retryAfterSeconds };
    }
    if (cap && scope.open >= cap.limit) {
      scope.refused += 1;
      return { admitted: false, status: cap.status };
    }
    scope.open += 1;
    scope.peakOpen = Math.max(scope.peakOpen, scope.open);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        scope.open -= 1;
      },
    };
  }

  /** A snapshot of the counters per scope. */
  stats(): ScopedStats {
    const stats: ScopedStats = { open: {}, peakOpen: {}, refused: {} };
    for (const scope of this.#scopes.values()) {
      stats.open[scope.label] = scope.open;
      stats.peakOpen[scope.label] = scope.peakOpen;
      stats.refused[scope.label] = scope.refused;
    }
    return stats;
  }

  #scopeOf(req: IncomingMessage): ScopeState {
    const key = this.#keyOf(req);
    let scope = this.#scopes.get(key);
    if (!scope) {
      scope = { label: this.#labelOf(key), open: 0, peakOpen: 0, refused: 0 };
      if (this.#options.rateLimit) scope.bucket = new TokenBucket(this.#options.rateLimit, this.#now());
      this.#scopes.set(key, scope);
    }
    return scope;
  }

  #keyOf(req: IncomingMessage): string {
    const { scope } = this.#options;
    if (scope.kind === 'source-address') return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const value = req.headers[scope.name.toLowerCase()];
    // Header values cannot hold a NUL, so this key is no header value.
    return typeof value === 'string' ? `=${value}` : '\0';
  }

  #labelOf(key: string): string {
    if (this.#options.scope.kind === 'source-address') return key;
    if (key === '\0') return 'no key';
    this.#keysSeen += 1;
    return `key ${this.#keysSeen}`;
  }
}
