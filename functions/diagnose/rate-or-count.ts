/**
 * The rate-or-count experiment: a refusal at N connections can be a
 * concurrency cap (refused at N whatever the connect rate) or a handshake
 * rate limit (refusals that vanish when connections open more slowly). It
 * reopens around the failing level at lower rates (½ and ¼ by default),
 * waiting out Retry-After and letting a token bucket refill before each
 * attempt, and holding each long enough for refusals that come late (a
 * queue). The same count at every rate is only a candidate: the count check
 * (count-check.ts) must show that the refusals follow the connections open,
 * not time, before a cap is claimed. Refusals that follow time are a rate
 * limit: counted in a window (window-limit.ts) or a token bucket, whose
 * sustainable handshakes per second and burst it measures honouring
 * Retry-After (rate-limit-measurement.ts, with the arithmetic of
 * token-bucket.ts). Every attempt stays within the plan's largest stage and
 * --max-connections; what each showed is read by attempt-observation.ts.
 */
import { round } from '../engine/units.js';
import type { ConnectionRecord, StagePlan } from '../engine/types.js';
import {
  describeAttempt,
  evidenceOf,
  mergeCounts,
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
import { runCountCheck } from './count-check.js';
import { measureRateLimit, pauseBefore } from './rate-limit-measurement.js';
import { describeQueueWait, queueSecondsOf, settleSecondsFor } from './refusal-wait.js';
import { describeRate, makeFinding } from './report.js';
import { beyondBudget, retryAfterReason, type RetryAfterBeyondBudget } from './retry-after.js';
import { fitTokenBucket, roughFit, type TokenBucket } from './token-bucket.js';
import { measureWindow } from './window-limit.js';

/** Fractions of the ramp's connect rate tried, fastest first. */
const SLOWER_RATE_FACTORS = [0.5, 0.25] as const;
/** Connections opened beyond the onset in each attempt: at least this many, or 10 % of the onset. */
const MIN_OVERSHOOT = 10;

/**
 * The verdicts the attempts support. A count limit is only a candidate until the count check confirms it;
 * `countMoved` says refusals began at different counts with none let through after them, as a window does.
 */
export type RateOrCountVerdict =
  | { kind: 'count-limit'; count: number; unanswered: boolean }
  | { kind: 'rate-limit'; cleanAtRate: number | null }
  | { kind: 'undetermined'; reason: string; countMoved: boolean };

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
 * let through after the first, at every rate tried (a count limit, still to be
 * checked); refusals that let connections through, or vanish at a slower rate
 * (rate limit).
 */
export function judgeRateOrCount(observations: readonly AttemptObservation[]): RateOrCountVerdict {
  const refusing = observations.filter((observation) => observation.refused > 0);
  if (refusing.length === 0)
    return {
      kind: 'undetermined',
      reason: "no attempt was refused, not even at the ramp's rate; the refusals of the ramp did not come back",
      countMoved: false,
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
        countMoved: false,
      };
    const count = Math.min(...countsAt);
    if (Math.max(...countsAt) - count > Math.max(1, Math.round(count * 0.02))) {
      return {
        kind: 'undetermined',
        reason: `refusals began at different counts (${countsAt.join(', ')}) with none let through after them`,
        countMoved: true,
      };
    }
    return { kind: 'count-limit', count, unanswered: refusing.every((observation) => observation.unanswered) };
  }
  const cleanAtRate = cleanSlower.length ? Math.max(...cleanSlower.map((observation) => observation.rate)) : null;
  return { kind: 'rate-limit', cleanAtRate };
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
  const settle = settleSecondsFor(rampObservation, context.settings.handshakeTimeoutSeconds);
  const slower = await trySlowerRates(context, ramp, { observation: rampObservation, onset, settle }, secondsLeft);
  const { observations, steps, blocked } = slower;
  if (slower.stop) return [stoppedFinding(context, 'rate-or-count', slower.stop, slower.probeSeconds, steps)];
  const verdict = judgeRateOrCount(observations);
  if (verdict.kind === 'rate-limit') return rateLimitFindings(context, verdict, slower, secondsLeft);
  if (verdict.kind === 'count-limit')
    return confirmCount(context, verdict, slower, { rate: ramp.rate, settle, secondsLeft });
  if (verdict.countMoved) return timeLimitFindings(context, slower, secondsLeft, verdict.reason);
  const values = {
    about: 'rate-or-count' as const,
    reason: blocked ? retryAfterReason(blocked, context.budgetSeconds) : verdict.reason,
  };
  const evidence = evidenceOf(observations, steps);
  return [
    makeFinding({
      kind: 'undetermined',
      values,
      experiment: 'rate-or-count',
      evidence,
      probeSeconds: slower.probeSeconds,
    }),
  ];
}

/**
 * Runs the count check on a candidate count limit: a count limit only when it
 * holds (see count-check.ts); refusals that followed time instead go to the
 * window and rate-limit measurements.
 */
async function confirmCount(
  context: ExperimentContext,
  verdict: Extract<RateOrCountVerdict, { kind: 'count-limit' }>,
  slower: Attempts,
  { rate, settle, secondsLeft }: { rate: number; settle: number; secondsLeft: () => number },
): Promise<Finding[]> {
  const check = await runCountCheck(context, {
    count: verdict.count,
    rate,
    settleSeconds: settle,
    pauseSeconds: pauseBefore(context, slower.observations, undefined).seconds,
    secondsLeft,
  });
  const checked = {
    ...slower,
    steps: [...slower.steps, ...check.steps],
    probeSeconds: slower.probeSeconds + check.probeSeconds,
  };
  switch (check.outcome.kind) {
    case 'count':
      return [
        countFinding(context, verdict, { ...checked, observations: [...slower.observations, ...check.observations] }),
      ];
    case 'stopped':
      return [stoppedFinding(context, 'rate-or-count', check.outcome.stop, checked.probeSeconds, checked.steps)];
    case 'time':
      return timeLimitFindings(context, checked, secondsLeft, undefined);
    case 'undetermined':
      return timeLimitFindings(context, checked, secondsLeft, check.outcome.reason);
  }
}

/**
 * Refusals that do not follow the connections open: a window limit when the
 * window measurement finds one; else a rate limit measured as a token bucket,
 * or, when `undecided` gives why the count check could not tell, undetermined.
 */
async function timeLimitFindings(
  context: ExperimentContext,
  attempts: Attempts,
  secondsLeft: () => number,
  undecided: string | undefined,
): Promise<Finding[]> {
  const window = await tryWindow(context, attempts, secondsLeft);
  if (window.finding) return [window.finding];
  const measured = { ...attempts, probeSeconds: window.probeSeconds };
  if (window.stop)
    return [stoppedFinding(context, 'rate-or-count', window.stop, measured.probeSeconds, measured.steps)];
  if (undecided === undefined)
    return rateLimitFindings(context, { kind: 'rate-limit', cleanAtRate: null }, measured, secondsLeft, false);
  const values = {
    about: 'rate-or-count' as const,
    reason: `${undecided}, and no window limit was found (${window.reason})`,
  };
  const evidence = evidenceOf(measured.observations, measured.steps);
  return [
    makeFinding({
      kind: 'undetermined',
      values,
      experiment: 'rate-or-count',
      evidence,
      probeSeconds: measured.probeSeconds,
    }),
  ];
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
 * refused or the budget (or a Retry-After beyond it) says no more. Each holds
 * `settle` seconds after its last upgrade, so refusals that come late (a queue,
 * unanswered upgrades) come back.
 */
async function trySlowerRates(
  context: ExperimentContext,
  ramp: RampRefusals,
  { observation: rampObservation, onset, settle }: { observation: AttemptObservation; onset: number; settle: number },
  secondsLeft: () => number,
): Promise<Attempts> {
  const observations = [rampObservation];
  const steps = [describeAttempt('ramp', rampObservation)];
  const count = Math.min(
    ramp.failingStage.target,
    maxExperimentConnections(context.settings),
    onset + Math.max(MIN_OVERSHOOT, Math.ceil(onset * 0.1)),
  );
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

/**
 * A count limit the count check confirmed: a full accept queue when every
 * refusal went unanswered, else a concurrency cap, with its queue when every
 * refusal came only after a wait.
 */
function countFinding(
  context: ExperimentContext,
  verdict: Extract<RateOrCountVerdict, { kind: 'count-limit' }>,
  { observations, steps, probeSeconds }: Attempts,
): Finding {
  const evidence = evidenceOf(observations, steps);
  const refusingRates = [...new Set(observations.filter((o) => o.refused > 0).map((o) => o.rate))];
  if (verdict.unanswered) {
    return acceptQueueFinding({
      count: verdict.count,
      rates: refusingRates,
      handshakeTimeoutSeconds: context.settings.handshakeTimeoutSeconds,
      evidence,
      probeSeconds,
    });
  }
  const queueSeconds = queueSecondsOf(observations);
  return makeFinding({
    kind: 'concurrency-cap',
    values: { count: verdict.count, rates: refusingRates, ...(queueSeconds !== null ? { queueSeconds } : {}) },
    experiment: 'rate-or-count',
    evidence: queueSeconds !== null ? { ...evidence, note: describeQueueWait(observations) } : evidence,
    probeSeconds,
  });
}

/**
 * A rate limit, with its token bucket measured, and why the rate was not
 * measured when a Retry-After beyond the budget kept it from that. When no
 * bucket fits, or the attempts contradict the one that does (unlikeBucket),
 * the window measurement runs (unless `window` is false: it already did) and
 * a window it finds is the finding; a contradicted bucket is never one.
 */
async function rateLimitFindings(
  context: ExperimentContext,
  verdict: Extract<RateOrCountVerdict, { kind: 'rate-limit' }>,
  attempts: Attempts,
  secondsLeft: () => number,
  window = true,
): Promise<Finding[]> {
  const { observations, steps } = attempts;
  const measured = await measureRateLimit(context, observations, secondsLeft, steps);
  let probeSeconds = attempts.probeSeconds + measured.probeSeconds;
  if (measured.stop && measured.stop.kind !== 'retry-after')
    return [stoppedFinding(context, 'rate-or-count', measured.stop, probeSeconds, steps)];
  const bucket =
    measured.bucket ?? (measured.stop ? undefined : fitTokenBucket(observations.filter((o) => o.fromRefill)));
  const seen = [...observations, ...measured.attempts];
  const unlike = bucket ? unlikeBucket(bucket, seen) : undefined;
  if (window && !measured.stop && (!bucket || unlike)) {
    const found = await tryWindow(context, { ...attempts, observations: seen, probeSeconds }, secondsLeft, verdict);
    if (found.finding) return [found.finding];
    if (found.stop) return [stoppedFinding(context, 'rate-or-count', found.stop, found.probeSeconds, steps)];
    probeSeconds = found.probeSeconds;
    if (unlike) {
      const values = {
        about: 'rate-or-count' as const,
        reason:
          `the refusals follow time, but not as a token bucket: ${unlike}; and no window could be read ` +
          `(${found.reason})`,
      };
      const evidence = evidenceOf(seen, steps);
      return [makeFinding({ kind: 'undetermined', values, experiment: 'rate-or-count', evidence, probeSeconds })];
    }
  }
  const evidence = evidenceOf(seen, steps, true);
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

/**
 * Why the attempts contradict a fitted token bucket, if they do: a bucket
 * lets more through from a refill the slower it is asked (it refills
 * meanwhile), so counts that repeat at two rates or more are not a bucket's;
 * and a bucket never refuses upgrades sent slower than it refills, so an
 * attempt refused at such a rate is not either. A window does both.
 */
function unlikeBucket(bucket: TokenBucket, observations: readonly AttemptObservation[]): string | undefined {
  const slower = observations.find((o) => o.refused > 0 && o.rate < bucket.perSecond * 0.9);
  if (slower) {
    return (
      `upgrades at ${describeRate(slower.rate)} were refused, slower than the ${describeRate(bucket.perSecond)} ` +
      'the bucket would refill'
    );
  }
  const firsts = observations.filter((o) => o.fromRefill && o.refused > 0 && o.firstStretch !== null);
  if (new Set(firsts.map((o) => o.rate)).size < 2) return undefined;
  const counts = firsts.map((o) => o.firstStretch?.opened ?? 0);
  const repeated = Math.max(...counts) - Math.min(...counts) <= Math.max(1, Math.round(Math.max(...counts) * 0.02));
  return repeated ? `${Math.max(...counts)} got through from a refill at every rate tried` : undefined;
}

/** What the window measurement came to: its finding when it found a window, else why not, or why it stopped. */
interface WindowTry {
  finding?: Finding;
  stop?: ExperimentStop;
  reason: string;
  probeSeconds: number;
}

/**
 * Runs the window measurement at the fastest refused rate, after any
 * Retry-After still running, and makes its finding: a handshake rate limit
 * with the window, `perSecond` the sustainable count / window.
 */
async function tryWindow(
  context: ExperimentContext,
  attempts: Attempts,
  secondsLeft: () => number,
  verdict?: Extract<RateOrCountVerdict, { kind: 'rate-limit' }>,
): Promise<WindowTry> {
  const { observations, steps } = attempts;
  const refusedRates = observations.filter((o) => o.refused > 0).map((o) => o.rate);
  const rate = Math.max(...refusedRates, 1);
  const wait = pauseBefore(context, observations, undefined);
  if (wait.retryAfter > secondsLeft()) {
    return { reason: 'a Retry-After longer than the budget has left', probeSeconds: attempts.probeSeconds };
  }
  context.onProgress('rate or count: looking for a window limit');
  const measured = await measureWindow(context, { rate, pauseSeconds: wait.seconds, secondsLeft });
  steps.push(...measured.steps);
  const probeSeconds = round(attempts.probeSeconds + measured.probeSeconds, 1);
  if (measured.verdict.kind === 'stopped') return { stop: measured.verdict.stop, reason: '', probeSeconds };
  if (measured.verdict.kind === 'not-window') return { reason: measured.verdict.reason, probeSeconds };
  const { count, seconds } = measured.verdict;
  const evidence = evidenceOf(observations, steps);
  const finding = makeFinding({
    kind: 'handshake-rate-limit',
    values: {
      perSecond: round(count / seconds, 1),
      burst: count,
      cleanAtRate: verdict?.cleanAtRate ?? null,
      rates: [...new Set(observations.map((o) => o.rate))],
      window: { count, seconds },
    },
    experiment: 'rate-or-count',
    evidence: {
      ...evidence,
      statuses: mergeCounts([evidence.statuses ?? {}, measured.statuses]),
      retryAfter: [...new Set([...(evidence.retryAfter ?? []), ...measured.retryAfter])],
    },
    probeSeconds,
  });
  return { finding, reason: '', probeSeconds };
}
