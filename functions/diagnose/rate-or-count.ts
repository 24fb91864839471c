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
 * What each attempt showed is read by attempt-observation.ts, the bucket is
 * measured by rate-limit-measurement.ts with the arithmetic of token-bucket.ts.
 */
import { round } from '../engine/units.js';
import type { ConnectionRecord, StagePlan } from '../engine/types.js';
import {
  describeAttempt,
  evidenceOf,
  observeAttempt,
  overBudget,
  type AttemptObservation,
} from './attempt-observation.js';
import {
  maxExperimentConnections,
  openAndHold,
  pause,
  startBudget,
  stoppedFinding,
  type ExperimentContext,
  type ExperimentStop,
} from './experiment-probe.js';
import type { Finding } from './findings.js';
import { acceptQueueFinding } from './queueing-gateway.js';
import { measureRateLimit, pauseBefore, SETTLE_SECONDS } from './rate-limit-measurement.js';
import { describeRate, makeFinding } from './report.js';
import { beyondBudget, retryAfterReason, type RetryAfterBeyondBudget } from './retry-after.js';
import { fitTokenBucket, roughFit } from './token-bucket.js';

/** Fractions of the ramp's connect rate tried, fastest first. */
const SLOWER_RATE_FACTORS = [0.5, 0.25] as const;
/** Connections opened beyond the onset in each attempt: at least this many, or 10 % of the onset. */
const MIN_OVERSHOOT = 10;

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
