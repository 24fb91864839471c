/**
 * The arithmetic of a token bucket (a refill rate and a size) as the
 * rate-or-count experiment reads it from refused upgrades: the stretches of
 * an attempt between refusals, the rate and burst fitted to them, a rough
 * estimate for planning, and how many upgrades a full bucket lets through.
 * Pure: records and numbers in, numbers out; the experiment that opens the
 * connections is rate-or-count.ts.
 */
import type { ConnectionRecord } from '../engine/types.js';
import { retryAfterOf } from './retry-after.js';

/** Fewest handshakes let through between refusals that a sustained rate is read from. */
const MIN_STEADY_SUCCESSES = 15;
/** Fewest that a rough rate, only for planning a measurement and its refill pause, is read from. */
const MIN_ROUGH_SUCCESSES = 2;
/** A gap after a refusal of at least this fraction of its Retry-After means the probe waited it out. */
const WAITED_FRACTION = 0.9;

/** A token bucket: refill per second and size. */
export interface TokenBucket {
  perSecond: number;
  burst: number;
}

/**
 * Upgrades let through from a stretch's first upgrade up to the refused one that ended it, and the seconds between
 * those two.
 */
export interface Stretch {
  opened: number;
  seconds: number;
}

/** What one attempt showed of a token bucket. */
export interface BucketEvidence {
  /** New connections per second tried. */
  rate: number;
  /** Upgrades refused. */
  refused: number;
  /** True when the attempt began after a pause long enough for a token bucket to refill. */
  fromRefill: boolean;
  /** From the attempt's first upgrade to its first refused one; null when nothing was refused. */
  firstStretch: Stretch | null;
  /** Stretches that began after the probe waited out a Retry-After, each up to the refusal that ended it. */
  stretchesAfterWait: Stretch[];
  /** Upgrades let through between the first and the last refusal, and the seconds between those two refusals. */
  steady: Stretch;
}

/**
 * The stretches of an attempt (its records in the order they were tried):
 * the first, from its first upgrade to its first refusal, and each that
 * began after a Retry-After wait (the next upgrade went out at least
 * WAITED_FRACTION of the Retry-After after the refusal), up to the refusal
 * that ended it; and how many waits there were.
 */
export function stretchesOf(
  byAttempt: readonly ConnectionRecord[],
  refused: ReadonlySet<ConnectionRecord>,
): Pick<BucketEvidence, 'firstStretch' | 'stretchesAfterWait'> & { waits: number } {
  const stretches: { start: ConnectionRecord; afterWait: boolean }[] = [];
  let previousRefusal: ConnectionRecord | undefined;
  let waits = 0;
  for (const [index, record] of byAttempt.entries()) {
    if (index === 0) stretches.push({ start: record, afterWait: false });
    else if (previousRefusal && !refused.has(record)) {
      const asked = retryAfterOf(previousRefusal) ?? 0;
      if (asked > 0 && record.attemptedAt - previousRefusal.settledAt >= asked * 1000 * WAITED_FRACTION) {
        waits += 1;
        stretches.push({ start: record, afterWait: true });
      }
    }
    if (refused.has(record)) previousRefusal = record;
    else previousRefusal = undefined;
  }
  const ended = stretches.flatMap(({ start, afterWait }) => {
    const end = byAttempt.find((record) => refused.has(record) && record.attemptedAt >= start.attemptedAt);
    if (!end) return [];
    const opened = byAttempt.filter(
      (record) =>
        record.outcome === 'opened' && record.attemptedAt >= start.attemptedAt && record.attemptedAt < end.attemptedAt,
    ).length;
    return [{ afterWait, stretch: { opened, seconds: (end.attemptedAt - start.attemptedAt) / 1000 } }];
  });
  const first = ended[0] && !ended[0].afterWait ? ended[0].stretch : null;
  return {
    firstStretch: first,
    stretchesAfterWait: ended.filter((entry) => entry.afterWait).map((entry) => entry.stretch),
    waits,
  };
}

/**
 * Fits a token bucket (refill `perSecond`, size `burst`) to attempts at rates
 * above its refill, whatever Retry-After made the probe do:
 *
 * - steady: between two refusals the bucket goes from empty to empty, so the
 *   upgrades let through between the first and the last refusal, over the
 *   seconds between them, are its refill rate (to one token either way),
 *   whether the probe kept sending or waited out Retry-After. The burst then
 *   follows from the first stretch of an attempt that began with a full
 *   bucket: k let through before the first refusal at d seconds means
 *   burst ≈ k − rate × d, less half a token and half an upgrade's refill.
 * - refills: when every wait let the bucket refill to full (the stretches
 *   after a wait let as many through as the first), each stretch from a full
 *   bucket gives one point k = burst + rate × d; stretches at two or more
 *   connect rates put a line through them: rate the slope, burst the intercept.
 *
 * Undefined when neither has enough to go on (fewer than `minSteady`
 * handshakes between refusals, and stretches at one rate only).
 */
export function fitTokenBucket(
  observations: readonly BucketEvidence[],
  minSteady = MIN_STEADY_SUCCESSES,
): TokenBucket | undefined {
  const steady = observations
    .filter((o) => o.firstStretch !== null && !refilledFully(o) && o.steady.seconds > 0 && o.steady.opened >= minSteady)
    .sort((a, b) => b.steady.seconds - a.steady.seconds)[0];
  if (steady?.firstStretch) {
    const perSecond = steady.steady.opened / steady.steady.seconds;
    return { perSecond, burst: Math.max(0, burstOf(steady.firstStretch, perSecond, steady.rate)) };
  }
  const points = observations.flatMap((o) => [
    ...(o.fromRefill && o.firstStretch ? [{ rate: o.rate, stretch: o.firstStretch }] : []),
    ...(refilledFully(o) ? o.stretchesAfterWait.map((stretch) => ({ rate: o.rate, stretch })) : []),
  ]);
  if (new Set(points.map((point) => point.rate)).size < 2) return undefined;
  // k = (burst − ½) + rate × (d − 1 / (2 × attempt rate)): see burstOf.
  const xs = points.map((point) => point.stretch.seconds - 1 / (2 * point.rate));
  const ys = points.map((point) => point.stretch.opened);
  const meanX = xs.reduce((sum, x) => sum + x, 0) / xs.length;
  const meanY = ys.reduce((sum, y) => sum + y, 0) / ys.length;
  const spread = xs.reduce((sum, x) => sum + (x - meanX) ** 2, 0);
  if (spread === 0) return undefined;
  const perSecond = xs.reduce((sum, x, index) => sum + (x - meanX) * ((ys[index] ?? 0) - meanY), 0) / spread;
  if (perSecond <= 0) return undefined;
  return { perSecond, burst: Math.max(0, meanY - perSecond * meanX + 0.5) };
}

/**
 * The token bucket as far as the attempts so far show it, for planning only:
 * a fit from as few as MIN_ROUGH_SUCCESSES between refusals, or else a
 * refill of the fastest rate that passed (half the slowest refused one
 * without) and a burst of the most let through before a first refusal, which
 * errs towards longer attempts and refill pauses.
 */
export function roughBucket(observations: readonly BucketEvidence[]): TokenBucket {
  const fit = roughFit(observations);
  if (fit) return fit;
  const passed = observations.filter((o) => o.refused === 0).map((o) => o.rate);
  const refusedRates = observations.filter((o) => o.refused > 0).map((o) => o.rate);
  const perSecond = passed.length ? Math.max(...passed) : Math.min(...refusedRates) / 2;
  return { perSecond, burst: Math.max(1, ...observations.map((o) => o.firstStretch?.opened ?? 0)) };
}

/** A fit from as few as MIN_ROUGH_SUCCESSES handshakes between refusals, for planning the next attempt's pause. */
export function roughFit(observations: readonly BucketEvidence[]): TokenBucket | undefined {
  return fitTokenBucket(observations, MIN_ROUGH_SUCCESSES);
}

/**
 * Upgrades at `rate` per second a full `bucket` lets through before the first refusal: burst × rate / (rate −
 * refill); without end when the bucket refills at least as fast.
 */
export function upgradesUntilRefused(rate: number, bucket: TokenBucket): number {
  return rate > bucket.perSecond ? (bucket.burst * rate) / (rate - bucket.perSecond) : Number.POSITIVE_INFINITY;
}

/**
 * The burst from a stretch that began with a full bucket at `rate` upgrades
 * per second: the k-th upgrade is the first refused when burst − k + refill ×
 * k / rate < 1 for the first time, so burst lies between k − refill × d +
 * refill / rate and k − refill × d + 1; this is the middle.
 */
function burstOf(stretch: Stretch, perSecond: number, rate: number): number {
  return stretch.opened - perSecond * stretch.seconds + (1 + perSecond / rate) / 2;
}

/**
 * Whether the stretches after a wait let about as many through as the first: the bucket refilled to full while the
 * probe waited.
 */
function refilledFully(observation: BucketEvidence): boolean {
  const { firstStretch, stretchesAfterWait } = observation;
  if (!firstStretch || stretchesAfterWait.length === 0) return false;
  const mean = stretchesAfterWait.reduce((sum, stretch) => sum + stretch.opened, 0) / stretchesAfterWait.length;
  return mean >= firstStretch.opened - 1;
}
