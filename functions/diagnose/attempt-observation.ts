/**
 * What one attempt of the rate-or-count experiment (or the ramp's failing
 * stage) showed about refusals, in numbers: how many opened and were
 * refused, the count open at the first refusal, whether connections still
 * got through after it, the Retry-After values and the token bucket's
 * evidence (see token-bucket.ts); and the evidence lines and counts a
 * finding carries. Pure: records in, numbers and words out.
 */
import { collectFailures, countFailures } from '../engine/failures.js';
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import { percentile } from '../engine/percentiles.js';
import type { ConnectionRecord, FailureClass, StagePlan } from '../engine/types.js';
import type { FindingEvidence } from './findings.js';
import { isUnanswered } from './queueing-gateway.js';
import { retryAfterOf } from './retry-after.js';
import { fitTokenBucket, stretchesOf, type BucketEvidence } from './token-bucket.js';

/** Refusals after the last upgrade let through that may still be a token bucket's (see withoutLongTail). */
const MIN_TAIL = 3;

/** What one attempt (or the ramp's failing stage) showed about refusals, the token bucket's evidence among it. */
export interface AttemptObservation extends BucketEvidence {
  attempted: number;
  opened: number;
  byStatus: Record<string, number>;
  byClass: Partial<Record<FailureClass, number>>;
  retryAfter: string[];
  /**
   * Connections open when the first refused upgrade was tried (so it would have been the next); null when nothing was
   * refused.
   */
  openBeforeFirstRefusal: number | null;
  /**
   * Connections attempted after the first refused upgrade that still opened: a rate limit lets some through, a cap
   * none.
   */
  openedAfterFirstRefusal: number;
  /** Retry-After waits the probe kept within the attempt. */
  waits: number;
  /**
   * The token bucket's rate and burst as this attempt alone shows them (see fitTokenBucket); null when it cannot tell.
   */
  sustainedPerSecond: number | null;
  burst: number | null;
  /** When the last refusal settled (epoch ms) and the longest Retry-After it asked for, in seconds. */
  lastRefusalAt: number | null;
  retryAfterSeconds: number | null;
  /** Every refusal connected over TCP and was never answered (a queueing gateway). */
  unanswered: boolean;
  /** Seconds from a refused upgrade to its answer (a refusal, or the handshake timeout): shortest, median, longest. */
  refusalSeconds: { min: number; median: number; max: number } | null;
  /** Seconds the slowest opened handshake took; null when none opened. */
  slowestOpenSeconds: number | null;
  /** Refusals by HTTP status in a long tail after the last upgrade let through: another limit behind this one. */
  tailByStatus: Record<string, number>;
}

/**
 * Observes one attempt: `records` are the attempt's own, `context` every
 * record open meanwhile (the ramp's earlier stages, for the ramp).
 */
export function observeAttempt(
  records: readonly ConnectionRecord[],
  context: { allRecords: readonly ConnectionRecord[]; stages: readonly StagePlan[]; rate: number; fromRefill: boolean },
): AttemptObservation {
  const byAttempt = [...records]
    .filter((record) => record.outcome !== 'cancelled')
    .sort((a, b) => a.attemptedAt - b.attemptedAt);
  const refusals = collectFailures(context.allRecords, context.stages)
    .filter((event) => REFUSAL_CLASSES.has(event.failureClass) && records.includes(event.record))
    .sort((a, b) => a.record.attemptedAt - b.record.attemptedAt);
  const counts = countFailures(refusals);
  const opened = byAttempt.filter((record) => record.outcome === 'opened');
  const answerSeconds = refusals.map((event) => (event.record.settledAt - event.record.attemptedAt) / 1000);
  const base = {
    rate: context.rate,
    attempted: byAttempt.length,
    opened: opened.length,
    refused: refusals.length,
    byStatus: counts.byStatus,
    byClass: counts.byClass,
    retryAfter: [...new Set(refusals.flatMap((event) => (event.record.retryAfter ? [event.record.retryAfter] : [])))],
    fromRefill: context.fromRefill,
    tailByStatus: {},
    refusalSeconds: answerSeconds.length
      ? {
          min: Math.min(...answerSeconds),
          median: percentile(answerSeconds, 50) ?? 0,
          max: Math.max(...answerSeconds),
        }
      : null,
    slowestOpenSeconds: opened.length
      ? Math.max(...opened.map((record) => record.settledAt - record.attemptedAt)) / 1000
      : null,
  };
  const first = refusals[0];
  const last = refusals[refusals.length - 1];
  if (!first || !last) {
    return {
      ...base,
      openBeforeFirstRefusal: null,
      openedAfterFirstRefusal: 0,
      firstStretch: null,
      stretchesAfterWait: [],
      waits: 0,
      steady: { opened: 0, seconds: 0 },
      sustainedPerSecond: null,
      burst: null,
      lastRefusalAt: null,
      retryAfterSeconds: null,
      unanswered: false,
    };
  }
  const firstTry = first.record.attemptedAt;
  const firstAnswer = Math.min(...refusals.map((event) => event.record.settledAt));
  // A long tail of refusals after the last upgrade let through is another limit behind (a cap): not the bucket's.
  const bucketRefusals = withoutLongTail(refusals, opened);
  const lastTry = (bucketRefusals[bucketRefusals.length - 1] ?? last).record.attemptedAt;
  const openBeforeFirstRefusal = context.allRecords.filter(
    (record) =>
      record.outcome === 'opened' && record.attemptedAt < firstTry && !(record.close && record.close.at < first.at),
  ).length;
  const refused = new Set(bucketRefusals.map((event) => event.record));
  const tailByStatus = countFailures(refusals.filter((event) => !refused.has(event.record))).byStatus;
  const stretches = stretchesOf(byAttempt, refused);
  const retryAfters = refusals.flatMap((event) => {
    const seconds = retryAfterOf(event.record);
    return seconds === null ? [] : [seconds];
  });
  const observation: AttemptObservation = {
    ...base,
    openBeforeFirstRefusal,
    // Upgrades still in flight when the first refusal came back may be answered in any order (several sockets or
    // shards): only one sent after that answer and let through proves that connections still got in.
    openedAfterFirstRefusal: opened.filter((record) => record.attemptedAt > firstAnswer).length,
    ...stretches,
    steady: {
      opened: opened.filter((record) => record.attemptedAt > firstTry && record.attemptedAt < lastTry).length,
      seconds: (lastTry - firstTry) / 1000,
    },
    sustainedPerSecond: null,
    burst: null,
    lastRefusalAt: Math.max(...refusals.map((event) => event.at)),
    retryAfterSeconds: retryAfters.length ? Math.max(...retryAfters) : null,
    unanswered: refusals.every((event) => isUnanswered(event.record)),
    tailByStatus,
  };
  const alone = fitTokenBucket([observation]);
  return { ...observation, sustainedPerSecond: alone?.perSecond ?? null, burst: alone?.burst ?? null };
}

/**
 * The refusals without a tail after the last upgrade let through when that
 * tail is longer than MIN_TAIL and twice the most refused between two let
 * through: connections stopped getting through for good, so another limit
 * (a cap behind a rate limit) refused them.
 */
function withoutLongTail<T extends { record: ConnectionRecord }>(
  refusals: readonly T[],
  opened: readonly ConnectionRecord[],
): T[] {
  const lastOpen = opened[opened.length - 1]?.attemptedAt ?? Number.NEGATIVE_INFINITY;
  const tail = refusals.filter((event) => event.record.attemptedAt > lastOpen);
  let longestRun = 0;
  let run = 0;
  const times = [
    ...refusals.map((event) => ({ at: event.record.attemptedAt, refused: true })),
    ...opened.map((record) => ({ at: record.attemptedAt, refused: false })),
  ].sort((a, b) => a.at - b.at);
  for (const { at, refused } of times) {
    if (at > lastOpen) break;
    run = refused ? run + 1 : 0;
    longestRun = Math.max(longestRun, run);
  }
  return tail.length > Math.max(MIN_TAIL, 2 * longestRun)
    ? refusals.filter((event) => !tail.includes(event))
    : [...refusals];
}

/**
 * The evidence of the attempts: refusals by status (`withoutTails`: less those of a limit behind, see withoutLongTail)
 * and class, Retry-After values, one line per attempt.
 */
export function evidenceOf(
  observations: readonly AttemptObservation[],
  steps: string[],
  withoutTails = false,
): FindingEvidence {
  const statuses = mergeCounts(observations.map((o) => o.byStatus));
  if (withoutTails) {
    for (const [status, count] of Object.entries(mergeCounts(observations.map((o) => o.tailByStatus)))) {
      const left = (statuses[status] ?? 0) - (count ?? 0);
      if (left > 0) statuses[status] = left;
      else delete statuses[status];
    }
  }
  return {
    statuses,
    failureClasses: mergeCounts(observations.map((o) => o.byClass)),
    retryAfter: [...new Set(observations.flatMap((o) => o.retryAfter))],
    steps,
  };
}

/** One line of evidence for an attempt, e.g. "40 connections at 25/s: 30 opened, 10 refused (HTTP 503 × 10)". */
export function describeAttempt(label: string, observation: AttemptObservation): string {
  const refusals = [
    ...Object.entries(observation.byStatus).map(([status, n]) => `HTTP ${status} × ${n}`),
    ...(observation.byClass['handshake-timeout'] ? [`unanswered × ${observation.byClass['handshake-timeout']}`] : []),
  ];
  const first =
    observation.openBeforeFirstRefusal === null
      ? ''
      : `, first refusal with ${observation.openBeforeFirstRefusal} open`;
  const waits =
    observation.waits === 0
      ? ''
      : `, Retry-After waited out ${observation.waits} time${observation.waits === 1 ? '' : 's'}`;
  const how = refusals.length ? ` (${refusals.join(', ')})` : '';
  return `${label}: ${observation.opened} opened, ${observation.refused} refused${how}${first}${waits}`;
}

/** The step of an attempt not tried: `25/s: not tried, it would take longer than the experiment budget of 60 s`. */
export function overBudget(label: string, budgetSeconds: number): string {
  return `${label}: not tried, it would take longer than the experiment budget of ${budgetSeconds} s`;
}

/** Adds up counts by key. */
export function mergeCounts<K extends string>(
  maps: ReadonlyArray<Partial<Record<K, number>>>,
): Partial<Record<K, number>> {
  const merged: Partial<Record<K, number>> = {};
  for (const map of maps)
    for (const [key, value] of Object.entries(map) as [K, number][]) merged[key] = (merged[key] ?? 0) + value;
  return merged;
}
