/**
 * Merges every shard's records into one run analysis: per-stage summaries,
 * the ceiling (highest stage held for its whole hold within tolerance), the
 * drop onset, the limiting factor with its evidence, the verdict, and the
 * condensed timeline that reports draw. The probe's own limits come first:
 * a run the probe limited (running out, a starved event loop, a shortfall
 * the resource watch saw) is inconclusive, never a ceiling.
 */
import type { SigV4Settings } from './execute-api.js';
import { collectFailures, countFailures, type FailureEvent } from './failures.js';
import { findCapacityLimit, findDurationLimit, findProbeFailure, type Finding } from './limiting-factor.js';
import { latencyPercentiles, percentile } from './percentiles.js';
import { allowedFailures } from './ramp-control.js';
import { buildRunTimeline } from './run-timeline.js';
import { OpenTimeline } from './timeline.js';
import type {
  ConnectionRecord,
  HeartbeatSettings,
  LatencyPercentiles,
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
  /** How the upgrade URLs were signed (`--sigv4`), when they were: a refusal then names the signature. */
  sigv4?: SigV4Settings;
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
  | 'readyMs'
  | 'probe'
  | 'timeline'
>;

/** The judging part of an analysis: verdict, ceiling, onset and cause. */
type Judgement = Pick<RunAnalysis, 'verdict' | 'verdictReason' | 'ceiling' | 'dropOnset' | 'limitingFactor'>;

/** Analyses a finished (or stopped) run. */
export function analyzeRun(input: AnalysisInput): RunAnalysis {
  const records = input.shards.flatMap((shard) => shard.records);
  const timeline = new OpenTimeline(records);
  const ends = stageEnds(input, records);
  const events = collectFailures(records, stagesAsRun(input.plan.stages, ends));
  const stages = summarizeStages(input, records, events, timeline, ends);
  const loopDelay = input.shards.flatMap((shard) => shard.loopDelay);
  const common = {
    stages,
    failures: countFailures(events),
    handshakeMs: latencyPercentiles(openedHandshakes(records)),
    ...readyPercentiles(records),
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
  const probeFailure = findProbeFailure(aborted, events, loopDelay, timeline, {
    url: input.url,
    shardsShareProcess,
    ...(input.sigv4 ? { sigv4: input.sigv4 } : {}),
  });
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
    // Every handshake of a stage settles before the stage ends (shard-runner.ts), so this is rare.
    const reason =
      `Stage ${failing.index + 1} reached only ${failing.openAtEnd} of ${failing.target} open ` +
      'connections without a recorded failure, so what stopped it is not known.';
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

/** Where a stage ended as it ran, and how its open count at the end is read. */
interface StageEnd {
  /** Whether every shard finished the stage (held it to its end). */
  completed: boolean;
  at: number;
  /**
   * True when the stage ran past its planned end, waiting for its own handshakes to settle (shard-runner.ts), or
   * past the stop, with drops that raced it: the last of those came at `at`, and the next stage started after that.
   */
  extended: boolean;
}

/**
 * Where each stage ended. A stage every shard finished ended when its hold
 * ended, or later when it waited for its handshakes to settle. The stage a
 * stopped run was in ended when the run stopped (the shards say when), and
 * never before its last handshake settled or the last drop in it that raced
 * the stop, so its row adds up: open at the end of the stage before, plus
 * opened, less dropped.
 */
function stageEnds(input: AnalysisInput, records: readonly ConnectionRecord[]): Map<number, StageEnd> {
  const stagesRun = Math.min(...input.shards.map((shard) => shard.stagesRun));
  const stopTimes = input.shards.flatMap((shard) => (shard.stoppedAt !== undefined ? [shard.stoppedAt] : []));
  // Shards of another version say not when they stopped: their last settled handshake is the best guess.
  const stoppedAt = stopTimes.length
    ? Math.min(...stopTimes)
    : records.reduce((latest, record) => Math.max(latest, record.settledAt), input.plan.startAt);
  const lastSettled = new Map<number, number>();
  for (const record of records) {
    if (record.outcome === 'cancelled') continue;
    lastSettled.set(record.stage, Math.max(lastSettled.get(record.stage) ?? 0, record.settledAt));
  }
  const dropTimes = records.flatMap((record) =>
    record.close && record.close.closedBy !== 'probe' ? [record.close.at] : [],
  );
  const ends = new Map<number, StageEnd>();
  for (const stage of input.plan.stages) {
    const completed = stage.index < stagesRun;
    const planned = completed ? stage.holdEndsAt : Math.min(stage.holdEndsAt, stoppedAt);
    const lastDrop = completed
      ? 0
      : dropTimes.reduce((last, at) => (at >= stage.startAt && at < stage.holdEndsAt ? Math.max(last, at) : last), 0);
    const settled = Math.max(lastSettled.get(stage.index) ?? 0, lastDrop);
    ends.set(stage.index, { completed, at: Math.max(planned, settled), extended: settled > planned });
  }
  return ends;
}

/** The stages with the hold end each actually had, so drops are counted against the stage whose window held them. */
function stagesAsRun(stages: readonly StagePlan[], ends: ReadonlyMap<number, StageEnd>): StagePlan[] {
  return stages.map((stage) => {
    const end = ends.get(stage.index);
    return end?.extended ? { ...stage, holdEndsAt: Math.max(stage.holdEndsAt, end.at) } : stage;
  });
}

function summarizeStages(
  input: AnalysisInput,
  records: readonly ConnectionRecord[],
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
  ends: ReadonlyMap<number, StageEnd>,
): StageSummary[] {
  return input.plan.stages.flatMap((stage) => {
    const end = ends.get(stage.index);
    if (!end || (!end.completed && !records.some((record) => record.stage === stage.index))) return [];
    return [summarizeStage(stage, end, input.tolerance, records, events, timeline)];
  });
}

function summarizeStage(
  stage: StagePlan,
  end: StageEnd,
  tolerance: Tolerance,
  records: readonly ConnectionRecord[],
  events: readonly FailureEvent[],
  timeline: OpenTimeline,
): StageSummary {
  const own = records.filter((record) => record.stage === stage.index);
  const failures = countFailures(events.filter((event) => event.stage === stage.index));
  // Past its planned end the stage's last handshake settled at `end.at`: connections that opened then count.
  const openAtEnd = end.extended ? timeline.openAfter(end.at) : timeline.openJustBefore(end.at);
  const allowed = allowedFailures(tolerance, stage.target);
  return {
    index: stage.index,
    target: stage.target,
    opened: own.filter((record) => record.outcome === 'opened').length,
    openAtEnd,
    failedByClass: failures.byClass,
    failed: failures.total,
    handshakeMs: latencyPercentiles(openedHandshakes(own)),
    ...readyPercentiles(own),
    held: end.completed && failures.total <= allowed && openAtEnd >= stage.target - allowed,
  };
}

/** `readyMs`: the times from the 101 to the ready message of the sessions that were ready, when there are any. */
function readyPercentiles(records: readonly ConnectionRecord[]): { readyMs?: LatencyPercentiles } {
  const times = records.flatMap((record) =>
    record.outcome === 'opened' && record.readyMs !== undefined ? [record.readyMs] : [],
  );
  return times.length ? { readyMs: latencyPercentiles(times) } : {};
}

function openedHandshakes(records: readonly ConnectionRecord[]): number[] {
  return records.flatMap((record) =>
    record.outcome === 'opened' && record.handshakeMs !== undefined ? [record.handshakeMs] : [],
  );
}
