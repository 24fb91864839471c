/**
 * The measurement of a handshake rate limit's token bucket, once the
 * rate-or-count experiment has found one: attempts that honour Retry-After
 * (after a refusal that asks to wait, nothing is sent until it has passed),
 * each from a refilled bucket, first at the fastest refused rate, then at
 * slower ones when one rate cannot tell the rate from the burst; and the
 * pause before any attempt (the longest Retry-After still running, and a
 * refill).
 */
import {
  maxExperimentConnections,
  openAndHold,
  pause,
  type ExperimentContext,
  type ExperimentStop,
} from './experiment-probe.js';
import { SETTLE_SECONDS } from './refusal-wait.js';
import { beyondBudget } from './retry-after.js';
import { describeRate } from './report.js';
import { describeAttempt, observeAttempt, overBudget, type AttemptObservation } from './attempt-observation.js';
import { fitTokenBucket, roughBucket, upgradesUntilRefused, type TokenBucket } from './token-bucket.js';

/** Shortest pause between attempts, so freed slots settle on the target (every close has completed before it). */
export const MIN_PAUSE_SECONDS = 0.25;
/** Longest pause for a token bucket to refill. */
const MAX_REFILL_SECONDS = 30;
/** Seconds between the first and the last refusal that a measurement aims for. */
const MEASURE_WINDOW_SECONDS = 1.5;
/** Handshakes let through between the first and the last refusal that a measurement aims for. */
const MEASURE_SUCCESSES = 30;
/** Rates of a further measurement, as fractions of the first, when one rate cannot tell the rate from the burst. */
const FURTHER_RATE_FACTORS = [0.5, 0.75] as const;

/** What the measurement found: the bucket when its attempts showed it, the attempts, and why it stopped, if it did. */
export interface Measurement {
  bucket?: TokenBucket;
  attempts: AttemptObservation[];
  probeSeconds: number;
  stop?: ExperimentStop;
}

/**
 * Measures the token bucket with attempts that honour Retry-After, each from
 * a refilled bucket: first at the fastest refused rate, long enough for about
 * MEASURE_WINDOW_SECONDS and MEASURE_SUCCESSES between its first and last
 * refusal; then, when that cannot tell the rate from the burst (every
 * Retry-After wait refilled the bucket to full), at FURTHER_RATE_FACTORS of
 * it until a second rate is refused. Skipped when no refusal asked to wait
 * and an earlier attempt from a refilled bucket already was that long.
 */
export async function measureRateLimit(
  context: ExperimentContext,
  observations: readonly AttemptObservation[],
  secondsLeft: () => number,
  steps: string[],
): Promise<Measurement> {
  const rough = roughBucket(observations);
  const askedToWait = observations.some((o) => (o.retryAfterSeconds ?? 0) > 0);
  const earlier = observations.filter(
    (o) => o.fromRefill && o.steady.seconds >= MEASURE_WINDOW_SECONDS && o.steady.opened >= MEASURE_SUCCESSES,
  );
  const done = askedToWait ? undefined : fitTokenBucket(earlier);
  if (done) return { bucket: done, attempts: [], probeSeconds: 0 };
  const fastest = Math.max(...observations.filter((o) => o.refused > 0).map((o) => o.rate));
  const rates = [
    fastest,
    ...FURTHER_RATE_FACTORS.map((factor) => fastest * factor).filter((rate) => rate > rough.perSecond * 1.1),
  ];
  const maxAttempts = maxExperimentConnections(context.settings);
  const attempts: AttemptObservation[] = [];
  let probeSeconds = 0;
  for (const [index, rate] of rates.entries()) {
    if (attempts.length > 0 && fitTokenBucket(attempts)) break;
    const estimate = fitTokenBucket([...observations, ...attempts]) ?? rough;
    const count = Math.min(maxAttempts, plannedAttempts(rate, estimate, index === 0));
    const wait = pauseBefore(context, [...observations, ...attempts], estimate);
    const label = `measurement, ${count} upgrades at ${describeRate(rate)}`;
    if (wait.retryAfter > secondsLeft()) {
      return {
        attempts,
        probeSeconds,
        stop: { kind: 'retry-after', beyond: beyondBudget(wait.retryAfterAsked, secondsLeft()) },
      };
    }
    if (context.signal.aborted || wait.seconds + count / rate + SETTLE_SECONDS > secondsLeft()) {
      steps.push(overBudget(label, context.budgetSeconds));
      break;
    }
    await pause(context, wait.seconds);
    const run = await openAndHold(context, { count, rate, holdSeconds: SETTLE_SECONDS, honourRetryAfter: secondsLeft });
    probeSeconds += run.probeSeconds;
    if (run.stop && run.stop.kind !== 'retry-after') return { attempts, probeSeconds, stop: run.stop };
    const observation = observeAttempt(run.records, {
      allRecords: run.records,
      stages: run.stages,
      rate,
      fromRefill: wait.refilled,
    });
    attempts.push(observation);
    steps.push(describeAttempt(label, observation));
    context.onProgress(`rate or count: ${steps[steps.length - 1]}`);
    if (run.stop) {
      const bucket = fitTokenBucket(attempts);
      return { ...(bucket ? { bucket } : {}), attempts, probeSeconds, stop: run.stop };
    }
  }
  const bucket = fitTokenBucket(attempts);
  return { ...(bucket ? { bucket } : {}), attempts, probeSeconds };
}

/**
 * Upgrades a measurement attempt at `rate` plans for, from the bucket as
 * estimated so far: the first refusal from a full bucket comes after about
 * burst × rate / (rate − refill) upgrades; the first attempt then goes on
 * for the measurement window, a further one needs only that first refusal.
 */
function plannedAttempts(rate: number, estimate: TokenBucket, withWindow: boolean): number {
  const untilRefused = upgradesUntilRefused(rate, estimate);
  const window = Math.max(MEASURE_WINDOW_SECONDS, MEASURE_SUCCESSES / estimate.perSecond);
  return Math.ceil(withWindow ? untilRefused * 1.2 + 2 + rate * window : untilRefused * 1.5 + 10);
}

/** A pause before an attempt, and what it is made of. */
export interface PauseBefore {
  seconds: number;
  /** Seconds still to wait for the longest Retry-After, and what that Retry-After asked for. */
  retryAfter: number;
  retryAfterAsked: number;
  /** True when the pause lets a token bucket estimated from the refusals so far refill. */
  refilled: boolean;
}

/**
 * The pause before the next attempt: the longest Retry-After still running,
 * and time for `bucket`, as estimated so far, to refill (1.5 × burst / rate).
 */
export function pauseBefore(
  context: ExperimentContext,
  observations: readonly AttemptObservation[],
  bucket: TokenBucket | undefined,
): PauseBefore {
  const now = context.now();
  const running = observations.flatMap((o) =>
    o.lastRefusalAt !== null && o.retryAfterSeconds !== null
      ? [{ left: (o.lastRefusalAt + o.retryAfterSeconds * 1000 - now) / 1000, asked: o.retryAfterSeconds }]
      : [],
  );
  const longest = running.reduce((best, entry) => (entry.left > best.left ? entry : best), { left: 0, asked: 0 });
  const refill = bucket ? Math.min(MAX_REFILL_SECONDS, (1.5 * bucket.burst) / bucket.perSecond) : 0;
  return {
    seconds: Math.max(MIN_PAUSE_SECONDS, longest.left, refill),
    retryAfter: longest.left,
    retryAfterAsked: longest.asked,
    refilled: bucket !== undefined,
  };
}
