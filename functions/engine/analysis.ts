/**
 * Merges every shard's records into one run analysis: per-stage summaries,
 * the ceiling (highest stage held for its whole hold within tolerance), the
 * drop onset, the limiting factor with its evidence, the verdict, and the
 * condensed timeline that reports draw. The probe's own limits come first:
 * a run the probe limited (running out, a starved event loop, a shortfall
 * the resource watch saw) is inconclusive, never a ceiling.
 */
import { collectFailures, countFailures, type FailureEvent } from './failures.js';
import { findCapacityLimit, findDurationLimit, findProbeFailure, type Finding } from './limiting-factor.js';
import { latencyPercentiles, percentile } from './percentiles.js';
import { allowedFailures } from './ramp-control.js';
import { buildRunTimeline } from './run-timeline.js';
import { OpenTimeline } from './timeline.js';
import type {
  ConnectionRecord,
  HeartbeatSettings,
  ProbePlan,
  RunResult,
  ShardResult,
  StagePlan,
  StageSummary,
  Tolerance,
  Verdict,
} from './types.js';

/** What the analysis needs: the plan, what every shard returned and the settings that judge it. */
export interface AnalysisInput {
  plan: ProbePlan;
  shards: readonly ShardResult[];
  tolerance: Tolerance;
  heartbeat: HeartbeatSettings['kind'];
  /** The target URL with secrets redacted, for messages. */
  url: string;
  minCeiling?: number;
}

/** The judged run: RunResult without its identity and settings. */
export type RunAnalysis = Pick<
  RunResult,
  | 'verdict'
  | 'verdictReason'
  | 'ceiling'
  | 'dropOnset'
  | 'limitingFactor'
  | 'stages'
  | 'failures'
  | 'handshakeMs'
  | 'probe'
  | 'timeline'
>;

/** The judging part of an analysis: verdict, ceiling, onset and cause. */
type Judgement = Pick<RunAnalysis, 'verdict' | 'verdictReason' | 'ceiling' | 'dropOnset' | 'limitingFactor'>;

/** Analyses a finished (or stopped) run. */
export function analyzeRun(input: AnalysisInput): RunAnalysis {
  const records = input.shards.flatMap((shard) => shard.records);
  const timeline = new OpenTimeline(records);
  const events = collectFailures(records, input.plan.stages);
  const stages = summarizeStages(input, records, events, timeline);
  const loopDelay = input.shards.flatMap((shard) => shard.loopDelay);
  const common = {
    stages,
    failures: countFailures(events),
    handshakeMs: latencyPercentiles(openedHandshakes(records)),
    probe: {
      eventLoopDelayP99Ms: percentile(
        loopDelay.map((sample) => sample.p99Ms),
        100,
      ),
      eventLoopDelayMaxMs: percentile(
        loopDelay.map((sample) => sample.maxMs),
        100,
      ),
    },
    timeline: buildRunTimeline(input.plan.startAt, input.plan.stages, records, events, timeline),
  };
  // A shard the probe's own limits stopped explains the run better than one stopped by time or by hand.
  const aborts = input.shards.flatMap((shard) => (shard.aborted ? [shard.aborted] : []));
  const aborted = aborts.find((abort) => abort.failureClass === 'probe-limited') ?? aborts[0];
  const shardsShareProcess = input.shards.some((shard) => shard.sharesProcess === true);
  const probeFailure = findProbeFailure(aborted, events, loopDelay, timeline, { url: input.url, shardsShareProcess });
  if (probeFailure === 'interrupted') {
    const reason = `The run was stopped before it finished (${aborted?.message}).`;
    return { ...common, ...noCeiling('inconclusive', reason, null) };
  }
  if (probeFailure) {
    const verdict = probeFailure.factor.kind === 'probe-limited' ? 'inconclusive' : 'failed';
    return { ...common, ...noCeiling(verdict, probeFailure.factor.summary, probeFailure) };
  }
  const durationLimit = findDurationLimit(events, input.heartbeat, timeline);
  if (durationLimit) {
    const reason = `${durationLimit.factor.summary} No concurrency ceiling was measured.`;
    return { ...common, ...noCeiling('inconclusive', reason, durationLimit) };
  }
  return { ...common, ...judgeCapacity(input, stages, events, timeline) };
}

function judgeCapacity(
  input: AnalysisInput,
  stages: readonly StageSummary[],
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
): Judgement {
  const failing = stages.find((stage) => !stage.held);
  const heldTargets = stages.filter((stage) => stage.held && (!failing || stage.index < failing.index));
  const highestHeld = heldTargets.length ? Math.max(...heldTargets.map((stage) => stage.target)) : null;
  if (!failing) {
    const ceiling = { value: highestHeld, reached: false };
    return {
      ...gate(input, ceiling, `Every stage held up to ${highestHeld} connections.`),
      ceiling,
      dropOnset: null,
      limitingFactor: null,
    };
  }
  const finding = findCapacityLimit(
    events.filter((event) => event.stage >= failing.index),
    timeline,
    { first: stages[0]?.handshakeMs.p95 ?? null, failing: failing.handshakeMs.p95 },
  );
  if (!finding) {
    const reason =
      `Stage ${failing.index + 1} reached only ${failing.openAtEnd} of ${failing.target} open ` +
      'connections without a recorded failure: handshakes were still pending when its hold ended. ' +
      'Raise --hold or --handshake-timeout.';
    return noCeiling('inconclusive', reason, null);
  }
  if (highestHeld === null) {
    const reason =
      `${finding.factor.summary} Not even the first stage (${failing.target}) held: start lower ` +
      '(--stages or --start) to measure the ceiling.';
    return { ...noCeiling('inconclusive', reason, finding), ceiling: { value: null, reached: true } };
  }
  const ceiling = { value: highestHeld, reached: true };
  return {
    ...gate(input, ceiling, finding.factor.summary),
    ceiling,
    dropOnset: finding.dropOnset,
    limitingFactor: finding.factor,
  };
}

function gate(
  input: AnalysisInput,
  ceiling: { value: number | null },
  reason: string,
): { verdict: Verdict; verdictReason: string } {
  if (input.minCeiling !== undefined && (ceiling.value ?? 0) < input.minCeiling) {
    return {
      verdict: 'below-floor',
      verdictReason: `Ceiling ${ceiling.value} is under the required minimum ${input.minCeiling}. ${reason}`,
    };
  }
  return { verdict: 'ok', verdictReason: reason };
}

function noCeiling(verdict: Verdict, reason: string, finding: Finding | null): Judgement {
  return {
    verdict,
    verdictReason: reason,
    ceiling: { value: null, reached: false },
    dropOnset: finding?.dropOnset ?? null,
    limitingFactor: finding?.factor ?? null,
  };
}

function summarizeStages(
  input: AnalysisInput,
  records: readonly ConnectionRecord[],
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
): StageSummary[] {
  const stagesRun = Math.min(...input.shards.map((shard) => shard.stagesRun));
  const stoppedAt = records.reduce((latest, record) => Math.max(latest, record.settledAt), input.plan.startAt);
  return input.plan.stages
    .filter((stage) => stage.index < stagesRun || records.some((record) => record.stage === stage.index))
    .map((stage) =>
      summarizeStage(stage, stage.index < stagesRun, input.tolerance, records, events, timeline, stoppedAt),
    );
}

function summarizeStage(
  stage: StagePlan,
  completed: boolean,
  tolerance: Tolerance,
  records: readonly ConnectionRecord[],
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
  stoppedAt: number,
): StageSummary {
  const own = records.filter((record) => record.stage === stage.index);
  const failures = countFailures(events.filter((event) => event.stage === stage.index));
  const endedAt = completed ? stage.holdEndsAt : Math.min(stage.holdEndsAt, stoppedAt);
  const openAtEnd = timeline.openJustBefore(endedAt);
  const allowed = allowedFailures(tolerance, stage.target);
  return {
    index: stage.index,
    target: stage.target,
    opened: own.filter((record) => record.outcome === 'opened').length,
    openAtEnd,
    failedByClass: failures.byClass,
    failed: failures.total,
    handshakeMs: latencyPercentiles(openedHandshakes(own)),
    held: completed && failures.total <= allowed && openAtEnd >= stage.target - allowed,
  };
}

function openedHandshakes(records: readonly ConnectionRecord[]): number[] {
  return records.flatMap((record) =>
    record.outcome === 'opened' && record.handshakeMs !== undefined ? [record.handshakeMs] : [],
  );
}
