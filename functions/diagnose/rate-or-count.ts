/**
 * The rate-or-count experiment: a refusal at N connections can be a
 * concurrency cap (refused at N whatever the connect rate) or a handshake
 * rate limit (refusals that vanish when connections open more slowly). It
 * reopens around the failing level at lower rates (½ and ¼ by default,
 * honouring Retry-After and letting a token bucket refill before each
 * attempt), then, for a rate limit, measures the sustainable handshakes per
 * second and the burst from an attempt long enough to be exact.
 */
import { collectFailures, countFailures } from '../engine/failures.js';
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import type { ConnectionRecord, FailureClass, StagePlan } from '../engine/types.js';
import { abortedFinding, openAndHold, pause, startBudget, type ExperimentContext, type ExperimentRun } from './experiment-probe.js';
import type { Finding, FindingEvidence } from './findings.js';
import { acceptQueueFinding, isUnanswered } from './queueing-gateway.js';
import { describeRate, makeFinding } from './report.js';

/** Fractions of the ramp's connect rate tried, fastest first. */
const SLOWER_RATE_FACTORS = [0.5, 0.25] as const;
/** Connections opened beyond the onset in each attempt: at least this many, or 10 % of the onset. */
const MIN_OVERSHOOT = 10;
/** Shortest pause between attempts, so freed slots settle on the target (every close has completed before it). */
const MIN_PAUSE_SECONDS = 0.25;
/** Hold after an attempt's last upgrade, for handshakes in flight to settle. */
const SETTLE_SECONDS = 0.5;
/** Longest pause for a token bucket to refill. */
const MAX_REFILL_SECONDS = 30;
/** Seconds of steady refusals a rate measurement needs to be exact within a few per cent. */
const MEASURE_WINDOW_SECONDS = 1.5;
/** Handshakes a rate measurement should count in its window. */
const MEASURE_SUCCESSES = 30;

/** What one attempt (or the ramp's failing stage) showed about refusals. */
export interface AttemptObservation {
  /** New connections per second tried. */
  rate: number;
  attempted: number;
  opened: number;
  refused: number;
  byStatus: Record<string, number>;
  byClass: Partial<Record<FailureClass, number>>;
  retryAfter: string[];
  /** Connections open when the first refused upgrade was tried (so it would have been the next); null when nothing was refused. */
  openBeforeFirstRefusal: number | null;
  /** Connections attempted after the first refused upgrade that still opened: a rate limit lets some through, a cap none. */
  openedAfterFirstRefusal: number;
  /** Handshakes let through per second while refusals came (the token bucket's rate, see fitTokenBucket). */
  sustainedPerSecond: number | null;
  /** Seconds between the first and the last refused attempt. */
  refusalWindowSeconds: number;
  /** The token bucket's burst, see fitTokenBucket. */
  burst: number | null;
  /** When the last refusal settled (epoch ms) and the longest Retry-After it asked for, in seconds. */
  lastRefusalAt: number | null;
  retryAfterSeconds: number | null;
  /** Every refusal connected over TCP and was never answered (a queueing gateway). */
  unanswered: boolean;
}

/** The verdicts the attempts support. */
export type RateOrCountVerdict =
  | { kind: 'count-limit'; count: number; unanswered: boolean }
  | { kind: 'rate-limit'; cleanAtRate: number | null; countLimit: number | null }
  | { kind: 'undetermined'; reason: string };

/** The ramp's failing stage, as the experiment starts from it. */
export interface RampRefusals {
  /** Every record of the ramp (for open counts). */
  records: readonly ConnectionRecord[];
  stages: readonly StagePlan[];
  failingStage: StagePlan;
  /** The ramp's connect rate. */
  rate: number;
}

/**
 * Observes one attempt: `records` are the attempt's own, `context` every
 * record open meanwhile (the ramp's earlier stages, for the ramp).
 */
export function observeAttempt(
  records: readonly ConnectionRecord[],
  context: { allRecords: readonly ConnectionRecord[]; stages: readonly StagePlan[]; rate: number },
): AttemptObservation {
  const byAttempt = [...records].sort((a, b) => a.attemptedAt - b.attemptedAt);
  const refusals = collectFailures(context.allRecords, context.stages)
    .filter((event) => REFUSAL_CLASSES.has(event.failureClass) && records.includes(event.record))
    .sort((a, b) => a.record.attemptedAt - b.record.attemptedAt);
  const counts = countFailures(refusals);
  const opened = byAttempt.filter((record) => record.outcome === 'opened');
  const base = {
    rate: context.rate,
    attempted: byAttempt.filter((record) => record.outcome !== 'cancelled').length,
    opened: opened.length,
    refused: refusals.length,
    byStatus: counts.byStatus,
    byClass: counts.byClass,
    retryAfter: [...new Set(refusals.flatMap((event) => (event.record.retryAfter ? [event.record.retryAfter] : [])))],
  };
  const first = refusals[0];
  const last = refusals[refusals.length - 1];
  if (!first || !last) {
    return {
      ...base,
      openBeforeFirstRefusal: null,
      openedAfterFirstRefusal: 0,
      sustainedPerSecond: null,
      refusalWindowSeconds: 0,
      burst: null,
      lastRefusalAt: null,
      retryAfterSeconds: null,
      unanswered: false,
    };
  }
  const firstTry = first.record.attemptedAt;
  const lastTry = last.record.attemptedAt;
  const openBeforeFirstRefusal = context.allRecords.filter(
    (record) => record.outcome === 'opened' && record.attemptedAt < firstTry && !(record.close && record.close.at < first.at),
  ).length;
  const startedAt = byAttempt[0]?.attemptedAt ?? firstTry;
  const bucket = fitTokenBucket(opened, startedAt, firstTry, lastTry, context.rate);
  return {
    ...base,
    openBeforeFirstRefusal,
    openedAfterFirstRefusal: opened.filter((record) => record.attemptedAt > firstTry).length,
    sustainedPerSecond: bucket?.perSecond ?? null,
    refusalWindowSeconds: (lastTry - firstTry) / 1000,
    burst: bucket?.burst ?? null,
    lastRefusalAt: Math.max(...refusals.map((event) => event.at)),
    retryAfterSeconds: longestRetryAfter(refusals.map((event) => event.record)),
    unanswered: refusals.every((event) => isUnanswered(event.record)),
  };
}

/** Fewest handshakes let through during refusals that a token-bucket fit is made from. */
const MIN_FIT_POINTS = 5;

/**
 * Fits a token bucket to the handshakes let through while refusals came:
 * while upgrades come faster than the bucket refills, the k-th success of an
 * attempt happens when k ≈ burst + rate × t (t since the attempt's first
 * upgrade), less half a token on average. A least-squares line over every
 * such success gives the rate (slope) and the burst (intercept), so no single
 * late or early upgrade decides them. Undefined with too few successes.
 */
export function fitTokenBucket(
  opened: readonly ConnectionRecord[],
  startedAt: number,
  firstRefusedTry: number,
  lastRefusedTry: number,
  attemptRate: number,
): { perSecond: number; burst: number } | undefined {
  const points = opened
    .map((record, index) => ({ t: (record.attemptedAt - startedAt) / 1000, k: index + 1, at: record.attemptedAt }))
    .filter((point) => point.at > firstRefusedTry && point.at <= lastRefusedTry);
  if (points.length < MIN_FIT_POINTS) return undefined;
  const meanT = points.reduce((sum, point) => sum + point.t, 0) / points.length;
  const meanK = points.reduce((sum, point) => sum + point.k, 0) / points.length;
  const spread = points.reduce((sum, point) => sum + (point.t - meanT) ** 2, 0);
  if (spread === 0) return undefined;
  const perSecond = points.reduce((sum, point) => sum + (point.t - meanT) * (point.k - meanK), 0) / spread;
  const intercept = meanK - perSecond * meanT;
  return { perSecond, burst: Math.max(0, intercept + perSecond / (2 * attemptRate)) };
}

/**
 * What the attempts, fastest first, say: refusals at the same count with none
 * let through after the first, at every rate tried (count limit); refusals
 * that let connections through, or vanish at a slower rate (rate limit).
 */
export function judgeRateOrCount(observations: readonly AttemptObservation[]): RateOrCountVerdict {
  const refusing = observations.filter((observation) => observation.refused > 0);
  if (refusing.length === 0) return { kind: 'undetermined', reason: 'no attempt was refused, not even at the ramp\'s rate; the refusals of the ramp did not come back' };
  const countLike = refusing.filter((observation) => observation.openedAfterFirstRefusal === 0);
  const countsAt = countLike.map((observation) => observation.openBeforeFirstRefusal ?? 0);
  const slowestRefusing = refusing.reduce((slowest, observation) => (observation.rate < slowest.rate ? observation : slowest));
  const cleanSlower = observations.filter(
    (observation) => observation.refused === 0 && observation.rate < slowestRefusing.rate && observation.opened > Math.min(...refusing.map((o) => o.openBeforeFirstRefusal ?? 0)),
  );
  if (countLike.length === refusing.length && cleanSlower.length === 0) {
    if (refusing.length < 2) return { kind: 'undetermined', reason: 'refusals came at only one connect rate, so a cap cannot be told from a rate limit' };
    const count = Math.min(...countsAt);
    if (Math.max(...countsAt) - count > Math.max(1, Math.round(count * 0.02))) {
      return { kind: 'undetermined', reason: `refusals began at different counts (${countsAt.join(', ')}) with none let through after them` };
    }
    return { kind: 'count-limit', count, unanswered: refusing.every((observation) => observation.unanswered) };
  }
  const cleanAtRate = cleanSlower.length ? Math.max(...cleanSlower.map((observation) => observation.rate)) : null;
  // Refused at a count with nothing let through at the slowest rate, while faster rates let connections through: a cap behind the rate limit.
  const countLimit = cleanAtRate === null && slowestRefusing.openedAfterFirstRefusal === 0 && refusing.some((o) => o.openedAfterFirstRefusal > 0)
    ? slowestRefusing.openBeforeFirstRefusal
    : null;
  return { kind: 'rate-limit', cleanAtRate, countLimit };
}

/** Runs the experiment from the ramp's failing stage and returns its findings. */
export async function runRateOrCount(context: ExperimentContext, ramp: RampRefusals): Promise<Finding[]> {
  const secondsLeft = startBudget(context);
  const rampRecords = ramp.records.filter((record) => record.stage === ramp.failingStage.index);
  const rampObservation = observeAttempt(rampRecords, { allRecords: ramp.records, stages: ramp.stages, rate: ramp.rate });
  const onset = rampObservation.openBeforeFirstRefusal;
  if (onset === null) return [];
  const observations = [rampObservation];
  const steps = [describeAttempt('ramp', rampObservation)];
  const count = Math.min(ramp.failingStage.target, onset + Math.max(MIN_OVERSHOOT, Math.ceil(onset * 0.1)));
  const settle = rampObservation.unanswered ? context.settings.handshakeTimeoutSeconds + 0.25 : SETTLE_SECONDS;
  let probeSeconds = 0;
  for (const factor of SLOWER_RATE_FACTORS) {
    const rate = ramp.rate * factor;
    const wait = pauseBefore(context, observations);
    if (context.signal.aborted || wait + count / rate + settle > secondsLeft()) {
      steps.push(`${describeRate(rate)}: not tried, it would take longer than the experiment budget of ${context.budgetSeconds} s`);
      break;
    }
    await pause(context, wait);
    const run = await openAndHold(context, { count, rate, holdSeconds: settle });
    probeSeconds += run.probeSeconds;
    if (run.aborted) return [abortedFinding('rate-or-count', run, probeSeconds, steps)];
    const observation = observeAttempt(run.records, { allRecords: run.records, stages: run.stages, rate });
    observations.push(observation);
    steps.push(describeAttempt(`${count} connections at ${describeRate(rate)}`, observation));
    context.onProgress(`rate or count: ${steps[steps.length - 1]}`);
    if (observation.refused === 0) break; // slower still cannot be refused more
  }
  const verdict = judgeRateOrCount(observations);
  const rates = observations.map((observation) => observation.rate);
  if (verdict.kind === 'undetermined') {
    const values = { about: 'rate-or-count' as const, reason: verdict.reason };
    return [makeFinding({ kind: 'undetermined', values, experiment: 'rate-or-count', evidence: evidenceOf(observations, steps), probeSeconds })];
  }
  if (verdict.kind === 'count-limit') {
    const evidence = evidenceOf(observations, steps);
    const refusingRates = observations.filter((o) => o.refused > 0).map((o) => o.rate);
    if (verdict.unanswered) {
      return [acceptQueueFinding({ count: verdict.count, rates: refusingRates, handshakeTimeoutSeconds: context.settings.handshakeTimeoutSeconds, evidence, probeSeconds })];
    }
    return [makeFinding({ kind: 'concurrency-cap', values: { count: verdict.count, rates: refusingRates }, experiment: 'rate-or-count', evidence, probeSeconds })];
  }
  const measured = await measureRateLimit(context, observations, secondsLeft);
  probeSeconds += measured.probeSeconds;
  if (measured.run?.aborted) return [abortedFinding('rate-or-count', measured.run, probeSeconds, steps)];
  if (measured.observation) steps.push(describeAttempt('measurement', measured.observation));
  const all = measured.observation ? [...observations, measured.observation] : observations;
  const best = measured.observation ?? bestMeasurement(observations);
  const evidence = evidenceOf(all, steps);
  const findings: Finding[] = [
    makeFinding({
      kind: 'handshake-rate-limit',
      values: {
        perSecond: best?.sustainedPerSecond == null ? null : Math.round(best.sustainedPerSecond * 10) / 10,
        burst: best?.burst == null ? null : Math.round(best.burst),
        cleanAtRate: verdict.cleanAtRate,
        rates,
      },
      experiment: 'rate-or-count',
      evidence,
      probeSeconds,
    }),
  ];
  if (verdict.countLimit !== null) {
    const values = { count: verdict.countLimit, rates: [Math.min(...rates)] };
    findings.push(makeFinding({ kind: 'concurrency-cap', values, experiment: 'rate-or-count', evidence, probeSeconds: 0 }));
  }
  return findings;
}

/** The evidence of the attempts: refusals by status and class, Retry-After values, one line per attempt. */
function evidenceOf(observations: readonly AttemptObservation[], steps: string[]): FindingEvidence {
  return {
    statuses: mergeCounts(observations.map((o) => o.byStatus)),
    failureClasses: mergeCounts(observations.map((o) => o.byClass)),
    retryAfter: [...new Set(observations.flatMap((o) => o.retryAfter))],
    steps,
  };
}

/**
 * One attempt at the fastest refused rate, long enough for about
 * MEASURE_WINDOW_SECONDS of steady refusals, so the sustained rate and the
 * burst are exact to a few per cent. Skipped when an attempt already was.
 */
async function measureRateLimit(
  context: ExperimentContext,
  observations: readonly AttemptObservation[],
  secondsLeft: () => number,
): Promise<{ observation?: AttemptObservation; run?: ExperimentRun; probeSeconds: number }> {
  const best = bestMeasurement(observations);
  const perSecond = best?.sustainedPerSecond;
  if (!best || !perSecond || isExact(best)) return { probeSeconds: 0 };
  const rate = Math.max(...observations.filter((o) => o.refused > 0).map((o) => o.rate));
  const window = Math.max(MEASURE_WINDOW_SECONDS, MEASURE_SUCCESSES / perSecond);
  const burst = best.burst ?? 0;
  const toFirstRefusal = rate > perSecond ? burst / (rate - perSecond) : 0;
  const seconds = toFirstRefusal + window;
  const maxOpen = Math.max(...context.settings.stages);
  const expectedOpen = burst + perSecond * seconds;
  const wait = pauseBefore(context, observations);
  if (expectedOpen > maxOpen || wait + seconds + SETTLE_SECONDS > secondsLeft() || context.signal.aborted) return { probeSeconds: 0 };
  await pause(context, wait);
  const count = Math.ceil(rate * seconds);
  const run = await openAndHold(context, { count, rate, holdSeconds: SETTLE_SECONDS });
  const observation = observeAttempt(run.records, { allRecords: run.records, stages: run.stages, rate });
  context.onProgress(`rate or count: ${describeAttempt('measurement', observation)}`);
  return { observation, run, probeSeconds: run.probeSeconds };
}

/** The refused observation with the longest steady refusal window. */
function bestMeasurement(observations: readonly AttemptObservation[]): AttemptObservation | undefined {
  return observations
    .filter((observation) => observation.sustainedPerSecond !== null && observation.openedAfterFirstRefusal > 0)
    .sort((a, b) => b.refusalWindowSeconds - a.refusalWindowSeconds)[0];
}

function isExact(observation: AttemptObservation): boolean {
  return observation.refusalWindowSeconds >= MEASURE_WINDOW_SECONDS && (observation.sustainedPerSecond ?? 0) * observation.refusalWindowSeconds >= MEASURE_SUCCESSES;
}

/**
 * Seconds to wait before the next attempt: the longest Retry-After still
 * running, and time for a token bucket to refill (1.5 × burst / rate) when
 * the refusals so far look like one.
 */
function pauseBefore(context: ExperimentContext, observations: readonly AttemptObservation[]): number {
  const now = context.now();
  const retryAfter = Math.max(
    0,
    ...observations.map((o) => (o.lastRefusalAt !== null && o.retryAfterSeconds !== null ? (o.lastRefusalAt + o.retryAfterSeconds * 1000 - now) / 1000 : 0)),
  );
  const bucket = bestMeasurement(observations);
  const refill = bucket?.sustainedPerSecond && bucket.burst !== null ? Math.min(MAX_REFILL_SECONDS, (1.5 * bucket.burst) / bucket.sustainedPerSecond) : 0;
  return Math.max(MIN_PAUSE_SECONDS, retryAfter, refill);
}

/** Seconds a Retry-After value asks for: delta-seconds or an HTTP date relative to `at`. */
export function retryAfterSeconds(value: string, at: number): number | null {
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - at) / 1000);
}

function longestRetryAfter(records: readonly ConnectionRecord[]): number | null {
  const seconds = records.flatMap((record) => {
    const value = record.retryAfter === undefined ? null : retryAfterSeconds(record.retryAfter, record.settledAt);
    return value === null ? [] : [value];
  });
  return seconds.length ? Math.max(...seconds) : null;
}

function describeAttempt(label: string, observation: AttemptObservation): string {
  const refusals = [
    ...Object.entries(observation.byStatus).map(([status, n]) => `HTTP ${status} × ${n}`),
    ...(observation.byClass['handshake-timeout'] ? [`unanswered × ${observation.byClass['handshake-timeout']}`] : []),
  ];
  const first = observation.openBeforeFirstRefusal === null ? '' : `, first refusal with ${observation.openBeforeFirstRefusal} open`;
  return `${label}: ${observation.opened} opened, ${observation.refused} refused${refusals.length ? ` (${refusals.join(', ')})` : ''}${first}`;
}

function mergeCounts<K extends string>(maps: ReadonlyArray<Partial<Record<K, number>>>): Partial<Record<K, number>> {
  const merged: Partial<Record<K, number>> = {};
  for (const map of maps) for (const [key, value] of Object.entries(map) as [K, number][]) merged[key] = (merged[key] ?? 0) + value;
  return merged;
}
