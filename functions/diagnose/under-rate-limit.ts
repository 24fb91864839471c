/**
 * Layered limits: a handshake rate limit often stands in front of a
 * concurrency cap, and hides it (the ramp is refused by the rate limit long
 * before the cap). Once rate-or-count has measured the rate limit, this
 * experiment ramps again under it, at 90 % of the measured rate (never
 * faster than the ramp), up to the plan's largest stage, and says what is
 * behind it: refusals at a count that the count check confirms are a
 * concurrency cap (or a full accept queue); none at all is no other limit up
 * to that count; anything else is undetermined, so the diagnosis is
 * explained only when both layers are settled.
 */
import { describeAttempt, evidenceOf, observeAttempt } from './attempt-observation.js';
import { runCountCheck } from './count-check.js';
import {
  maxExperimentConnections,
  openAndHold,
  pause,
  startBudget,
  stoppedFinding,
  type ExperimentContext,
} from './experiment-probe.js';
import type { Finding, FindingValuesByKind } from './findings.js';
import { acceptQueueFinding } from './queueing-gateway.js';
import { MIN_PAUSE_SECONDS } from './rate-limit-measurement.js';
import { describeQueueWait, queueSecondsOf, settleSecondsFor, SETTLE_SECONDS } from './refusal-wait.js';
import { describeRate, makeFinding, safeRate } from './report.js';

/** Longest pause for the rate limit to refill before the ramp under it. */
const MAX_REFILL_SECONDS = 30;

/** The rate limit rate-or-count found, and the ramp's connect rate. */
export interface UnderRateLimitInput {
  limit: FindingValuesByKind['handshake-rate-limit'];
  rampRate: number;
}

/** Ramps under the rate limit up to the plan's largest stage and returns what stands behind it. */
export async function runUnderRateLimit(context: ExperimentContext, input: UnderRateLimitInput): Promise<Finding[]> {
  const { limit } = input;
  if (limit.perSecond === null) {
    return [undetermined('the rate limit was not measured, so there is no rate known to pass under it', 0, [])];
  }
  const secondsLeft = startBudget(context);
  const rate = Math.min(input.rampRate, safeRate(limit.perSecond));
  const count = maxExperimentConnections(context.settings);
  // A window must first forget the measurement's own upgrades (a whole window); a bucket is given time to refill.
  const refill = Math.min(
    MAX_REFILL_SECONDS,
    limit.window ? limit.window.seconds : (1.5 * (limit.burst ?? 1)) / limit.perSecond,
  );
  const label = `ramp under the rate limit, ${count} connections at ${describeRate(rate)}`;
  if (refill + count / rate + SETTLE_SECONDS > secondsLeft()) {
    return [
      undetermined(
        `ramping to ${count} connections at ${describeRate(rate)} would take longer than the experiment budget of ` +
          `${context.budgetSeconds} s (--experiment-budget)`,
        0,
        [`${label}: not tried, it would take longer than the budget`],
      ),
    ];
  }
  context.onProgress(`under the rate limit: ramping to ${count} connections at ${describeRate(rate)}`);
  await pause(context, Math.max(MIN_PAUSE_SECONDS, refill));
  const run = await openAndHold(context, { count, rate, holdSeconds: SETTLE_SECONDS });
  if (run.stop) return [stoppedFinding(context, 'under-rate-limit', run.stop, run.probeSeconds, [])];
  const observation = observeAttempt(run.records, {
    allRecords: run.records,
    stages: run.stages,
    rate,
    fromRefill: false,
  });
  const steps = [describeAttempt(label, observation)];
  context.onProgress(`under the rate limit: ${steps[0]}`);
  const drops = run.records.filter((record) => record.close && record.close.closedBy !== 'probe').length;
  if (observation.refused === 0 && drops === 0) {
    return [
      makeFinding({
        kind: 'no-limit',
        values: { max: observation.opened, rate },
        experiment: 'under-rate-limit',
        evidence: { steps },
        probeSeconds: run.probeSeconds,
      }),
    ];
  }
  const onset = observation.openBeforeFirstRefusal;
  if (drops > 0 || onset === null || observation.openedAfterFirstRefusal > 0) {
    const what =
      drops > 0
        ? `${drops} connections were dropped`
        : `upgrades were refused again with connections still getting through (${observation.refused} refused)`;
    return [undetermined(`${what} while ramping under the rate limit`, run.probeSeconds, steps)];
  }
  const check = await runCountCheck(context, {
    count: onset,
    rate,
    settleSeconds: settleSecondsFor(observation, context.settings.handshakeTimeoutSeconds),
    pauseSeconds: MIN_PAUSE_SECONDS,
    secondsLeft,
  });
  const allSteps = [...steps, ...check.steps];
  const probeSeconds = run.probeSeconds + check.probeSeconds;
  if (check.outcome.kind === 'stopped')
    return [stoppedFinding(context, 'under-rate-limit', check.outcome.stop, probeSeconds, allSteps)];
  if (check.outcome.kind !== 'count') {
    return [
      undetermined(`refused at ${onset} under the rate limit, but ${check.outcome.reason}`, probeSeconds, allSteps),
    ];
  }
  const observations = [observation, ...check.observations];
  const evidence = evidenceOf(observations, allSteps);
  if (observation.unanswered) {
    return [
      acceptQueueFinding({
        count: onset,
        rates: [rate],
        handshakeTimeoutSeconds: context.settings.handshakeTimeoutSeconds,
        evidence,
        probeSeconds,
        experiment: 'under-rate-limit',
      }),
    ];
  }
  const queueSeconds = queueSecondsOf(observations);
  return [
    makeFinding({
      kind: 'concurrency-cap',
      values: { count: onset, rates: [rate], ...(queueSeconds !== null ? { queueSeconds } : {}) },
      experiment: 'under-rate-limit',
      evidence: queueSeconds !== null ? { ...evidence, note: describeQueueWait(observations) } : evidence,
      probeSeconds,
    }),
  ];
}

function undetermined(reason: string, probeSeconds: number, steps: string[]): Finding {
  return makeFinding({
    kind: 'undetermined',
    values: { about: 'under-rate-limit', reason },
    experiment: 'under-rate-limit',
    evidence: { steps },
    probeSeconds,
  });
}
