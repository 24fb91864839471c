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
/** Fewest handshakes let through between refusals that a sustained rate is read from. */
const MIN_STEADY_SUCCESSES = 15;
/** Fewest that a rough rate, only for planning the measurement and its refill pause, is read from. */
const MIN_ROUGH_SUCCESSES = 2;
/** Rates of a further measurement, as fractions of the first, when one rate cannot tell the rate from the burst. */
const FURTHER_RATE_FACTORS = [0.5, 0.75] as const;
/** A gap after a refusal of at least this fraction of its Retry-After means the probe waited it out. */
const WAITED_FRACTION = 0.9;

/**
 * Upgrades let through from a stretch's first upgrade up to the refused one that ended it, and the seconds between
 * those two.
 */
export interface Stretch {
  opened: number;
  seconds: number;
}

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
  /** From the attempt's first upgrade to its first refused one; null when nothing was refused. */
  firstStretch: Stretch | null;
  /** Stretches that began after the probe waited out a Retry-After, each up to the refusal that ended it. */
  stretchesAfterWait: Stretch[];
  /** Retry-After waits the probe kept within the attempt. */
  waits: number;
  /** Upgrades let through between the first and the last refusal, and the seconds between those two refusals. */
  steady: Stretch;
  /** True when the attempt began after a pause long enough for a token bucket to refill. */
  fromRefill: boolean;
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

/** A token bucket: refill per second and size. */
export interface TokenBucket {
  perSecond: number;
  burst: number;
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
 * The stretches of an attempt: the first, from its first upgrade to its first
 * refusal, and each that began after a Retry-After wait (the next upgrade
 * went out at least WAITED_FRACTION of the Retry-After after the refusal),
 * up to the refusal that ended it.
 */
function stretchesOf(
  byAttempt: readonly ConnectionRecord[],
  refused: ReadonlySet<ConnectionRecord>,
): Pick<AttemptObservation, 'firstStretch' | 'stretchesAfterWait' | 'waits'> {
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
  observations: readonly AttemptObservation[],
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
function refilledFully(observation: AttemptObservation): boolean {
  const { firstStretch, stretchesAfterWait } = observation;
  if (!firstStretch || stretchesAfterWait.length === 0) return false;
  const mean = stretchesAfterWait.reduce((sum, stretch) => sum + stretch.opened, 0) / stretchesAfterWait.length;
  return mean >= firstStretch.opened - 1;
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
  const observations = [rampObservation];
  const steps = [describeAttempt('ramp', rampObservation)];
  const count = Math.min(
    ramp.failingStage.target,
    maxExperimentConnections(context.settings),
    onset + Math.max(MIN_OVERSHOOT, Math.ceil(onset * 0.1)),
  );
  const settle = rampObservation.unanswered ? context.settings.handshakeTimeoutSeconds + 0.25 : SETTLE_SECONDS;
  let probeSeconds = 0;
  let blocked: RetryAfterBeyondBudget | undefined;
  for (const factor of SLOWER_RATE_FACTORS) {
    const rate = ramp.rate * factor;
    const wait = pauseBefore(context, observations, fitTokenBucket(observations, MIN_ROUGH_SUCCESSES));
    if (wait.retryAfter > secondsLeft()) {
      blocked = beyondBudget(wait.retryAfterAsked, secondsLeft());
      steps.push(
        `${describeRate(rate)}: not tried, the target's Retry-After of ${wait.retryAfterAsked} s is longer than ` +
          'the experiment budget has left',
      );
      break;
    }
    if (context.signal.aborted || wait.seconds + count / rate + settle > secondsLeft()) {
      steps.push(
        `${describeRate(rate)}: not tried, it would take longer than the experiment budget of ${context.budgetSeconds}` +
          ' s',
      );
      break;
    }
    await pause(context, wait.seconds);
    const run = await openAndHold(context, { count, rate, holdSeconds: settle });
    probeSeconds += run.probeSeconds;
    if (run.stop) return [stoppedFinding(context, 'rate-or-count', run.stop, probeSeconds, steps)];
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
  const verdict = judgeRateOrCount(observations);
  const rates = observations.map((observation) => observation.rate);
  if (verdict.kind === 'undetermined') {
    const values = {
      about: 'rate-or-count' as const,
      reason: blocked ? retryAfterReason(blocked, context.budgetSeconds) : verdict.reason,
    };
    return [
      makeFinding({
        kind: 'undetermined',
        values,
        experiment: 'rate-or-count',
        evidence: evidenceOf(observations, steps),
        probeSeconds,
      }),
    ];
  }
  if (verdict.kind === 'count-limit') {
    const evidence = evidenceOf(observations, steps);
    const refusingRates = observations.filter((o) => o.refused > 0).map((o) => o.rate);
    if (verdict.unanswered) {
      return [
        acceptQueueFinding({
          count: verdict.count,
          rates: refusingRates,
          handshakeTimeoutSeconds: context.settings.handshakeTimeoutSeconds,
          evidence,
          probeSeconds,
        }),
      ];
    }
    return [
      makeFinding({
        kind: 'concurrency-cap',
        values: { count: verdict.count, rates: refusingRates },
        experiment: 'rate-or-count',
        evidence,
        probeSeconds,
      }),
    ];
  }
  const measured = await measureRateLimit(context, observations, secondsLeft, steps);
  probeSeconds += measured.probeSeconds;
  if (measured.stop && measured.stop.kind !== 'retry-after')
    return [stoppedFinding(context, 'rate-or-count', measured.stop, probeSeconds, steps)];
  const bucket =
    measured.bucket ?? (measured.stop ? undefined : fitTokenBucket(observations.filter((o) => o.fromRefill)));
  const evidence = evidenceOf([...observations, ...measured.attempts], steps);
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
    const reason = `the sustainable rate was not measured: ${retryAfterReason(measured.stop.beyond, context.budgetSeconds)}`;
    findings.push(
      makeFinding({
        kind: 'undetermined',
        values: { about: 'rate-or-count', reason },
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
      steps.push(`${label}: not tried, it would take longer than the experiment budget of ${context.budgetSeconds} s`);
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
 * The token bucket as far as the attempts so far show it, for planning only:
 * a fit from as few as MIN_ROUGH_SUCCESSES between refusals, or else a
 * refill of the fastest rate that passed (half the slowest refused one
 * without) and a burst of the most let through before a first refusal, which
 * errs towards longer attempts and refill pauses.
 */
function roughBucket(observations: readonly AttemptObservation[]): TokenBucket {
  const fit = fitTokenBucket(observations, MIN_ROUGH_SUCCESSES);
  if (fit) return fit;
  const passed = observations.filter((o) => o.refused === 0).map((o) => o.rate);
  const refusedRates = observations.filter((o) => o.refused > 0).map((o) => o.rate);
  const perSecond = passed.length ? Math.max(...passed) : Math.min(...refusedRates) / 2;
  return { perSecond, burst: Math.max(1, ...observations.map((o) => o.firstStretch?.opened ?? 0)) };
}

/**
 * Upgrades a measurement attempt at `rate` plans for, from the bucket as
 * estimated so far: the first refusal from a full bucket comes after about
 * burst × rate / (rate − refill) upgrades; the first attempt then goes on
 * for the measurement window, a further one needs only that first refusal.
 */
function plannedAttempts(rate: number, estimate: TokenBucket, withWindow: boolean): number {
  const untilRefused =
    rate > estimate.perSecond ? (estimate.burst * rate) / (rate - estimate.perSecond) : Number.POSITIVE_INFINITY;
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
  return (
    `${label}: ${observation.opened} opened, ${observation.refused} refused${refusals.length ? ` (${refusals.join(', ')})` : ''}` +
    `${first}${waits}`
  );
}

function mergeCounts<K extends string>(maps: ReadonlyArray<Partial<Record<K, number>>>): Partial<Record<K, number>> {
  const merged: Partial<Record<K, number>> = {};
  for (const map of maps)
    for (const [key, value] of Object.entries(map) as [K, number][]) merged[key] = (merged[key] ?? 0) + value;
  return merged;
}
