/**
 * The refinement experiment: stages are coarse (a ceiling of 800 with drops
 * at 1000 says only that the limit lies between), so it finds the exact
 * ceiling, to one connection by default, in as few probe-seconds as it can.
 * First it reads the ramp's own failing stage: refusals at N with N held to
 * the end of the hold settle a cap with no extra probing. Otherwise it holds
 * the last good level and adds connections in a bisection of the gap, one
 * adaptive stage per step, so a count is never re-ramped from zero unless
 * drops left more connections open than the next step wants.
 */
import type { AdaptiveStage, ShardEvent } from '../engine/types.js';
import { collectFailures } from '../engine/failures.js';
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import { round } from '../engine/units.js';
import { planRun } from '../engine/plan.js';
import { allowedFailures } from '../engine/ramp-control.js';
import { OpenTimeline } from '../engine/timeline.js';
import type { ConnectionRecord, StagePlan } from '../engine/types.js';
import {
  experimentSettings,
  pause,
  runExperimentPlan,
  startBudget,
  stoppedFinding,
  type ExperimentContext,
  type ExperimentStop,
} from './experiment-probe.js';
import type { Finding } from './findings.js';
import { makeFinding } from './report.js';
import { retryAfterOf } from './retry-after.js';

/** Seconds the reopened last good level settles before the first step. */
const SETTLE_SECONDS = 0.1;
/** Bisection steps at most, whatever the gap (40 halve any gap a plan can have). */
const MAX_STEPS = 40;

/** What one stage proved: a count held for the whole hold, and the smallest count that failed. */
export interface StepJudgement {
  /** Connections open from the end of the stage's ramp to the end of its hold with no drop; null when drops came. */
  held: number | null;
  /**
   * Smallest count known to fail: the refused upgrade's count, or the count when the first drop came; null when nothing
   * failed.
   */
  failsAt: number | null;
}

/** The gap to close: `lo` held, `hi` failed. */
export interface CeilingGap {
  lo: number;
  hi: number;
}

/** Where the refinement starts from: the ramp's records and failing stage, and how finely to resolve. */
export interface RefinementInput {
  records: readonly ConnectionRecord[];
  stages: readonly StagePlan[];
  failingStage: StagePlan;
  /** The ramp's ceiling: the highest stage held. */
  lastHeld: number;
  /** Resolution in connections (1 by default). */
  resolution: number;
}

/**
 * Judges one stage from every record of its run: refusals do not undo a
 * held count (the connections already open stay open), drops do.
 */
export function judgeStep(
  records: readonly ConnectionRecord[],
  stages: readonly StagePlan[],
  stage: StagePlan,
  allowed: number,
): StepJudgement {
  const timeline = new OpenTimeline(records);
  const events = collectFailures(records, stages).filter((event) => event.stage === stage.index);
  const openAtEnd = timeline.openJustBefore(stage.holdEndsAt);
  if (events.length <= allowed) return { held: openAtEnd, failsAt: null };
  const refusals = events
    .filter((event) => REFUSAL_CLASSES.has(event.failureClass))
    .sort((a, b) => a.record.attemptedAt - b.record.attemptedAt);
  const drops = events.filter((event) => !REFUSAL_CLASSES.has(event.failureClass));
  const firstRefusal = refusals[0];
  const firstDrop = drops[0];
  const refusedAt = firstRefusal
    ? records.filter(
        (record) =>
          record.outcome === 'opened' &&
          record.attemptedAt < firstRefusal.record.attemptedAt &&
          !(record.close && record.close.at < firstRefusal.at),
      ).length + 1
    : Number.POSITIVE_INFINITY;
  const droppedAt = firstDrop ? timeline.openAt(firstDrop.at) : Number.POSITIVE_INFINITY;
  return { held: firstDrop ? null : openAtEnd, failsAt: Math.min(refusedAt, droppedAt) };
}

/**
 * Narrows a gap with one judgement; undefined when the judgement contradicts it (the limit moved, or is not a count).
 */
export function narrowGap(gap: CeilingGap, judgement: StepJudgement): CeilingGap | undefined {
  const lo = Math.max(gap.lo, judgement.held ?? gap.lo);
  const hi = Math.min(gap.hi, judgement.failsAt ?? gap.hi);
  return lo < hi ? { lo, hi } : undefined;
}

/** The next count to try: the middle of the gap, on the resolution's grid above `lo`. */
export function nextCount(gap: CeilingGap, resolution: number): number {
  const steps = Math.ceil((gap.hi - gap.lo) / resolution);
  return Math.min(gap.hi - 1, gap.lo + Math.ceil(steps / 2) * resolution);
}

/** Runs the refinement and returns the exact-ceiling finding (or why there is none). */
export async function runRefinement(context: ExperimentContext, input: RefinementInput): Promise<Finding[]> {
  const allowedAt = (target: number) => allowedFailures(context.settings.tolerance, target);
  const fromRamp = narrowGap(
    { lo: input.lastHeld, hi: input.failingStage.target },
    judgeStep(input.records, input.stages, input.failingStage, allowedAt(input.failingStage.target)),
  );
  if (!fromRamp)
    return [
      undetermined(
        "the ramp's failing stage held more connections than it refused at, so the limit is not a count",
        0,
        [],
      ),
    ];
  if (fromRamp.hi - fromRamp.lo > input.resolution && fromRamp.lo < 1) {
    return [
      undetermined(
        'not even the first stage held, so there is no good level to refine from: start lower (--stages or --start)',
        0,
        [],
      ),
    ];
  }
  const steps: string[] = [`ramp: held ${fromRamp.lo}, failed at ${fromRamp.hi}`];
  let gap = fromRamp;
  let stepCount = 0;
  let probeSeconds = 0;
  let resumeAt = 0;
  const secondsLeft = startBudget(context);
  const rate = context.settings.connectRate;
  const hold = context.settings.holdSeconds;
  while (gap.hi - gap.lo > input.resolution) {
    const between = `stopped with the ceiling between ${gap.lo} and ${gap.hi - 1}`;
    if (stepCount >= MAX_STEPS)
      return [undetermined(`${between}: it took the most steps allowed (${MAX_STEPS})`, probeSeconds, steps)];
    if (context.signal.aborted) return [undetermined(`${between}: stopped by Ctrl-C`, probeSeconds, steps)];
    // A Retry-After from the session before is waited out before the last good level is reopened.
    const wait = Math.max(0, (resumeAt - context.now()) / 1000);
    if (wait + gap.lo / rate + hold > secondsLeft()) {
      const why = wait > 0 ? `a Retry-After of ${round(wait, 1)} s and the next step` : 'the next step';
      return [
        undetermined(
          `${between}: ${why} would take longer than is left of the experiment budget of ${context.budgetSeconds}` +
            ' s (--experiment-budget); raise it, or give a coarser --resolution',
          probeSeconds,
          steps,
        ),
      ];
    }
    await pause(context, wait);
    const session = await bisectFrom(context, gap, input.resolution, allowedAt, secondsLeft, steps);
    probeSeconds += session.probeSeconds;
    stepCount += session.steps;
    resumeAt = session.resumeAt;
    if (session.stop) return [stoppedFinding(context, 'refinement', session.stop, round(probeSeconds, 1), steps)];
    if (!session.gap) return [undetermined(session.reason ?? 'the limit moved between steps', probeSeconds, steps)];
    gap = session.gap;
  }
  return [
    makeFinding({
      kind: 'exact-ceiling',
      values: { value: gap.lo, failsAt: gap.hi, resolution: input.resolution, steps: stepCount },
      experiment: 'refinement',
      evidence: { steps },
      probeSeconds: round(probeSeconds, 1),
    }),
  ];
}

interface SessionOutcome {
  gap?: CeilingGap;
  reason?: string;
  steps: number;
  probeSeconds: number;
  /** When the session's data decides nothing: the probe's own limits, Ctrl-C, a Retry-After beyond the budget. */
  stop?: ExperimentStop;
  /** Epoch ms until which the target's last Retry-After asks the probe to wait (0 when none). */
  resumeAt: number;
}

/**
 * One session: reopens the last good level, then adds connections step by
 * step while the gap narrows; ends when the gap is closed, the budget is
 * spent, or drops left more connections open than the next step wants. A
 * refusal's Retry-After holds the session's next upgrades off until it has
 * passed (a step's hold ends that much later).
 */
async function bisectFrom(
  context: ExperimentContext,
  start: CeilingGap,
  resolution: number,
  allowedAt: (target: number) => number,
  secondsLeft: () => number,
  log: string[],
): Promise<SessionOutcome> {
  const rate = context.settings.connectRate;
  const hold = context.settings.holdSeconds;
  const settings = experimentSettings(context.settings, {
    stages: [start.lo],
    holdSeconds: SETTLE_SECONDS,
    shardSize: Math.max(...context.settings.stages),
  });
  const plan = planRun(settings, { now: context.now, newRunId: () => 'refinement', startDelayMs: 100 });
  const records: ConnectionRecord[] = [];
  const stages: StagePlan[] = [...plan.stages];
  let gap: CeilingGap | undefined = start;
  let reason: string | undefined;
  let steps = 0;
  const nextStage = (ended: StagePlan): AdaptiveStage | undefined => {
    const judgement = judgeStep(records, stages, ended, ended.index === 0 ? 0 : allowedAt(ended.target));
    if (ended.index === 0) {
      if (judgement.failsAt !== null) {
        reason = `the last good level ${start.lo} failed when reopened (at ${judgement.failsAt})`;
        gap = undefined;
        return undefined;
      }
    } else {
      const narrowed: CeilingGap | undefined = gap && narrowGap(gap, judgement);
      const outcome = judgement.failsAt === null ? 'held' : `failed at ${judgement.failsAt}`;
      const alsoHeld = judgement.held !== null && judgement.failsAt !== null ? `, ${judgement.held} held` : '';
      log.push(`step ${steps}: ${ended.target} connections ${outcome}${alsoHeld}`);
      context.onProgress(`refinement: ${log[log.length - 1]}`);
      if (!narrowed) {
        reason = `step ${steps} contradicted the steps before it (the limit moved or is not a count)`;
        gap = undefined;
        return undefined;
      }
      gap = narrowed;
    }
    if (!gap || gap.hi - gap.lo <= resolution || steps >= MAX_STEPS) return undefined;
    const target = nextCount(gap, resolution);
    const open = new OpenTimeline(records).openAfter(context.now());
    if (open > target || (target - open) / rate + hold > secondsLeft()) return undefined;
    steps += 1;
    const startAt = context.now();
    const rampEndsAt = startAt + Math.ceil(((target - open) / rate) * 1000);
    const stage = {
      index: ended.index + 1,
      target,
      newConnections: target - open,
      startAt,
      rampEndsAt,
      holdEndsAt: rampEndsAt + hold * 1000,
    };
    stages.push(stage);
    return { stage, newConnections: target - open };
  };
  const run = await runExperimentPlan(context, {
    settings,
    plan,
    nextStage,
    honourRetryAfter: secondsLeft,
    onEvent: (event: ShardEvent) => {
      if (event.type === 'settled') records.push(event.record);
    },
  });
  const resumeAt = Math.max(
    0,
    ...records
      .map((record) => record.settledAt + (retryAfterOf(record) ?? 0) * 1000)
      .filter((at) => at > context.now()),
  );
  if (run.stop) return { steps, probeSeconds: run.probeSeconds, stop: run.stop, resumeAt };
  return { ...(gap ? { gap } : {}), ...(reason ? { reason } : {}), steps, probeSeconds: run.probeSeconds, resumeAt };
}

function undetermined(reason: string, probeSeconds: number, steps: string[]): Finding {
  const values = { about: 'refinement' as const, reason };
  return makeFinding({
    kind: 'undetermined',
    values,
    experiment: 'refinement',
    evidence: { steps },
    probeSeconds: round(probeSeconds, 1),
  });
}
