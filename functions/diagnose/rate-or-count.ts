/**
 * The rate-or-count experiment: a refusal at N connections can be a
 * concurrency cap (refused at N whatever the connect rate) or a handshake
 * rate limit (refusals that vanish when connections open more slowly). It
 * reopens around the failing level at lower rates (½ and ¼ by default),
 * waiting out Retry-After and letting a token bucket refill before each
 * attempt. For a rate limit it then measures the sustainable handshakes per
 * second and the burst, honouring Retry-After inside the measurement too:
 * after a refusal that asks to wait, nothing is sent until it has passed.
 * Every attempt stays within the plan's largest stage and --max-connections.
 * The token-bucket arithmetic it reads the refusals with is token-bucket.ts.
 */
import { collectFailures, countFailures } from '../engine/failures.js';
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import { round } from '../engine/units.js';
import type { ConnectionRecord, FailureClass, StagePlan } from '../engine/types.js';
import {
  maxExperimentConnections,
  openAndHold,
  pause,
  startBudget,
  stoppedFinding,
  type ExperimentContext,
  type ExperimentStop,
} from './experiment-probe.js';
import type { Finding, FindingEvidence } from './findings.js';
import { acceptQueueFinding, isUnanswered } from './queueing-gateway.js';
import { describeRate, makeFinding } from './report.js';
import { beyondBudget, retryAfterOf, retryAfterReason, type RetryAfterBeyondBudget } from './retry-after.js';
import {
  fitTokenBucket,
  roughBucket,
  roughFit,
  stretchesOf,
  upgradesUntilRefused,
  type BucketEvidence,
  type TokenBucket,
} from './token-bucket.js';

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
/** Seconds between the first and the last refusal that a measurement aims for. */
const MEASURE_WINDOW_SECONDS = 1.5;
/** Handshakes let through between the first and the last refusal that a measurement aims for. */
const MEASURE_SUCCESSES = 30;
/** Rates of a further measurement, as fractions of the first, when one rate cannot tell the rate from the burst. */
const FURTHER_RATE_FACTORS = [0.5, 0.75] as const;

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
  const base = {
    rate: context.rate,
    attempted: byAttempt.length,
    opened: opened.length,
    refused: refusals.length,
    byStatus: counts.byStatus,
    byClass: counts.byClass,
    retryAfter: [...new Set(refusals.flatMap((event) => (event.record.retryAfter ? [event.record.retryAfter] : [])))],
    fromRefill: context.fromRefill,
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
  const lastTry = last.record.attemptedAt;
  const openBeforeFirstRefusal = context.allRecords.filter(
    (record) =>
      record.outcome === 'opened' && record.attemptedAt < firstTry && !(record.close && record.close.at < first.at),
  ).length;
  const refused = new Set(refusals.map((event) => event.record));
  const stretches = stretchesOf(byAttempt, refused);
  const retryAfters = refusals.flatMap((event) => {
    const seconds = retryAfterOf(event.record);
    return seconds === null ? [] : [seconds];
  });
  const observation: AttemptObservation = {
    ...base,
    openBeforeFirstRefusal,
    openedAfterFirstRefusal: opened.filter((record) => record.attemptedAt > firstTry).length,
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
  };
  const alone = fitTokenBucket([observation]);
  return { ...observation, sustainedPerSecond: alone?.perSecond ?? null, burst: alone?.burst ?? null };
}

/**
 * What the attempts, fastest first, say: refusals at the same count with none
 * let through after the first, at every rate tried (count limit); refusals
 * that let connections through, or vanish at a slower rate (rate limit).
 */
export function judgeRateOrCount(observations: readonly AttemptObservation[]): RateOrCountVerdict {
  const refusing = observations.filter((observation) => observation.refused > 0);
  if (refusing.length === 0)
    return {
      kind: 'undetermined',
      reason: "no attempt was refused, not even at the ramp's rate; the refusals of the ramp did not come back",
    };
  const countLike = refusing.filter((observation) => observation.openedAfterFirstRefusal === 0);
  const countsAt = countLike.map((observation) => observation.openBeforeFirstRefusal ?? 0);
  const slowestRefusing = refusing.reduce((slowest, observation) =>
    observation.rate < slowest.rate ? observation : slowest,
  );
  const cleanSlower = observations.filter(
    (observation) =>
      observation.refused === 0 &&
      observation.rate < slowestRefusing.rate &&
      observation.opened > Math.min(...refusing.map((o) => o.openBeforeFirstRefusal ?? 0)),
  );
  if (countLike.length === refusing.length && cleanSlower.length === 0) {
    if (refusing.length < 2)
      return {
        kind: 'undetermined',
        reason: 'refusals came at only one connect rate, so a cap cannot be told from a rate limit',
      };
    const count = Math.min(...countsAt);
    if (Math.max(...countsAt) - count > Math.max(1, Math.round(count * 0.02))) {
      return {
        kind: 'undetermined',
        reason: `refusals began at different counts (${countsAt.join(', ')}) with none let through after them`,
      };
    }
    return { kind: 'count-limit', count, unanswered: refusing.every((observation) => observation.unanswered) };
  }
  const cleanAtRate = cleanSlower.length ? Math.max(...cleanSlower.map((observation) => observation.rate)) : null;
  // Refused at a count with nothing let through at the slowest rate, while faster rates let connections through: a cap
  // behind the rate limit.
  const countLimit =
    cleanAtRate === null &&
    slowestRefusing.openedAfterFirstRefusal === 0 &&
    refusing.some((o) => o.openedAfterFirstRefusal > 0)
      ? slowestRefusing.openBeforeFirstRefusal
      : null;
  return { kind: 'rate-limit', cleanAtRate, countLimit };
}

/** Runs the experiment from the ramp's failing stage and returns its findings. */
export async function runRateOrCount(context: ExperimentContext, ramp: RampRefusals): Promise<Finding[]> {
  const secondsLeft = startBudget(context);
  const rampRecords = ramp.records.filter((record) => record.stage === ramp.failingStage.index);
  const rampObservation = observeAttempt(rampRecords, {
    allRecords: ramp.records,
    stages: ramp.stages,
    rate: ramp.rate,
    fromRefill: false,
  });
  const onset = rampObservation.openBeforeFirstRefusal;
  if (onset === null) return [];
  const slower = await trySlowerRates(context, ramp, { observation: rampObservation, onset }, secondsLeft);
  const { observations, steps, probeSeconds, blocked } = slower;
  if (slower.stop) return [stoppedFinding(context, 'rate-or-count', slower.stop, probeSeconds, steps)];
  const verdict = judgeRateOrCount(observations);
  if (verdict.kind === 'undetermined') {
    const values = {
      about: 'rate-or-count' as const,
      reason: blocked ? retryAfterReason(blocked, context.budgetSeconds) : verdict.reason,
    };
    const evidence = evidenceOf(observations, steps);
    return [makeFinding({ kind: 'undetermined', values, experiment: 'rate-or-count', evidence, probeSeconds })];
  }
  if (verdict.kind === 'count-limit') return [countFinding(context, verdict, slower)];
  return rateLimitFindings(context, verdict, slower, secondsLeft);
}

/** The ramp's attempt and those at slower rates: what each showed, a line each, and what they cost. */
interface Attempts {
  observations: AttemptObservation[];
  steps: string[];
  probeSeconds: number;
  /** A Retry-After that kept the next slower rate from being tried. */
  blocked?: RetryAfterBeyondBudget;
  /** Why an attempt stopped the experiment (the probe ran out, or it was interrupted). */
  stop?: ExperimentStop;
}

/**
 * Reopens the ramp's failing level (`onset`, the count open at the ramp's
 * first refusal, plus an overshoot) at each of SLOWER_RATE_FACTORS of its
 * rate, pausing for Retry-After and a refill before each, until one is not
 * refused or the budget (or a Retry-After beyond it) says no more.
 */
async function trySlowerRates(
  context: ExperimentContext,
  ramp: RampRefusals,
  { observation: rampObservation, onset }: { observation: AttemptObservation; onset: number },
  secondsLeft: () => number,
): Promise<Attempts> {
  const observations = [rampObservation];
  const steps = [describeAttempt('ramp', rampObservation)];
  const count = Math.min(
    ramp.failingStage.target,
    maxExperimentConnections(context.settings),
    onset + Math.max(MIN_OVERSHOOT, Math.ceil(onset * 0.1)),
  );
  const settle = rampObservation.unanswered ? context.settings.handshakeTimeoutSeconds + 0.25 : SETTLE_SECONDS;
  let probeSeconds = 0;
  for (const factor of SLOWER_RATE_FACTORS) {
    const rate = ramp.rate * factor;
    const wait = pauseBefore(context, observations, roughFit(observations));
    if (wait.retryAfter > secondsLeft()) {
      const blocked = beyondBudget(wait.retryAfterAsked, secondsLeft());
      steps.push(
        `${describeRate(rate)}: not tried, the target's Retry-After of ${wait.retryAfterAsked} s is longer than ` +
          'the experiment budget has left',
      );
      return { observations, steps, probeSeconds, blocked };
    }
    if (context.signal.aborted || wait.seconds + count / rate + settle > secondsLeft()) {
      steps.push(overBudget(describeRate(rate), context.budgetSeconds));
      break;
    }
    await pause(context, wait.seconds);
    const run = await openAndHold(context, { count, rate, holdSeconds: settle });
    probeSeconds += run.probeSeconds;
    if (run.stop) return { observations, steps, probeSeconds, stop: run.stop };
    const observation = observeAttempt(run.records, {
      allRecords: run.records,
      stages: run.stages,
      rate,
      fromRefill: wait.refilled,
    });
    observations.push(observation);
    steps.push(describeAttempt(`${count} connections at ${describeRate(rate)}`, observation));
    context.onProgress(`rate or count: ${steps[steps.length - 1]}`);
    if (observation.refused === 0) break; // slower still cannot be refused more
  }
  return { observations, steps, probeSeconds };
}

/** A count limit: a full accept queue when every refusal went unanswered, else a concurrency cap. */
function countFinding(
  context: ExperimentContext,
  verdict: Extract<RateOrCountVerdict, { kind: 'count-limit' }>,
  { observations, steps, probeSeconds }: Attempts,
): Finding {
  const evidence = evidenceOf(observations, steps);
  const refusingRates = observations.filter((o) => o.refused > 0).map((o) => o.rate);
  if (verdict.unanswered) {
    return acceptQueueFinding({
      count: verdict.count,
      rates: refusingRates,
      handshakeTimeoutSeconds: context.settings.handshakeTimeoutSeconds,
      evidence,
      probeSeconds,
    });
  }
  return makeFinding({
    kind: 'concurrency-cap',
    values: { count: verdict.count, rates: refusingRates },
    experiment: 'rate-or-count',
    evidence,
    probeSeconds,
  });
}

/**
 * A rate limit, with its token bucket measured: the rate limit itself, a cap
 * behind it when the slowest rate was refused at a count, and why the rate
 * was not measured when a Retry-After beyond the budget kept it from that.
 */
async function rateLimitFindings(
  context: ExperimentContext,
  verdict: Extract<RateOrCountVerdict, { kind: 'rate-limit' }>,
  attempts: Attempts,
  secondsLeft: () => number,
): Promise<Finding[]> {
  const { observations, steps } = attempts;
  const measured = await measureRateLimit(context, observations, secondsLeft, steps);
  const probeSeconds = attempts.probeSeconds + measured.probeSeconds;
  if (measured.stop && measured.stop.kind !== 'retry-after')
    return [stoppedFinding(context, 'rate-or-count', measured.stop, probeSeconds, steps)];
  const bucket =
    measured.bucket ?? (measured.stop ? undefined : fitTokenBucket(observations.filter((o) => o.fromRefill)));
  const evidence = evidenceOf([...observations, ...measured.attempts], steps);
  const rates = observations.map((observation) => observation.rate);
  const findings: Finding[] = [
    makeFinding({
      kind: 'handshake-rate-limit',
      values: {
        perSecond: bucket ? round(bucket.perSecond, 1) : null,
        burst: bucket ? Math.round(bucket.burst) : null,
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
    findings.push(
      makeFinding({ kind: 'concurrency-cap', values, experiment: 'rate-or-count', evidence, probeSeconds: 0 }),
    );
  }
  if (!bucket && measured.stop?.kind === 'retry-after') {
    const why = retryAfterReason(measured.stop.beyond, context.budgetSeconds);
    findings.push(
      makeFinding({
        kind: 'undetermined',
        values: { about: 'rate-or-count', reason: `the sustainable rate was not measured: ${why}` },
        experiment: 'rate-or-count',
        evidence: { steps },
        probeSeconds: 0,
      }),
    );
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

/** What the measurement found: the bucket when its attempts showed it, the attempts, and why it stopped, if it did. */
interface Measurement {
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
async function measureRateLimit(
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
interface PauseBefore {
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
function pauseBefore(
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

function describeAttempt(label: string, observation: AttemptObservation): string {
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
function overBudget(label: string, budgetSeconds: number): string {
  return `${label}: not tried, it would take longer than the experiment budget of ${budgetSeconds} s`;
}

function mergeCounts<K extends string>(maps: ReadonlyArray<Partial<Record<K, number>>>): Partial<Record<K, number>> {
  const merged: Partial<Record<K, number>> = {};
  for (const map of maps)
    for (const [key, value] of Object.entries(map) as [K, number][]) merged[key] = (merged[key] ?? 0) + value;
  return merged;
}
