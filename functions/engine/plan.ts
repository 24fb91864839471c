/**
 * The plan step: turns validated settings into stages with absolute start
 * times and a split into shards. Shards started separately (threads, Lambdas)
 * move together because every stage has the same wall-clock schedule.
 */
import { InvalidInputError } from './errors.js';
import type { ProbePlan, ProbeSettings, ShardPlan, StagePlan } from './types.js';

/** Connections one Lambda can hold within its 1,024 file descriptors, with headroom. */
export const DEFAULT_SHARD_SIZE = 900;

/** What the plan step needs besides settings. */
export interface PlanDependencies {
  /** Current time in epoch milliseconds. */
  now: () => number;
  newRunId: () => string;
  /** Delay before the first stage, so every shard is ready (cold starts). */
  startDelayMs: number;
}

/** Lays out the run: stage times, shard shares and the expected end. */
export function planRun(settings: ProbeSettings, deps: PlanDependencies): ProbePlan {
  assertPlannable(settings);
  const startAt = deps.now() + deps.startDelayMs;
  const stages = scheduleStages(settings, startAt);
  const shards = splitIntoShards(settings);
  const last = stages[stages.length - 1];
  return {
    runId: deps.newRunId(),
    targetId: settings.targetId,
    startAt,
    endsAt: last ? last.holdEndsAt : startAt,
    stages,
    shards,
    holdSeconds: settings.holdSeconds,
    connectRate: settings.connectRate,
  };
}

/** Seconds from the first stage's start to the last stage's hold end. */
export function expectedSeconds(plan: ProbePlan): number {
  return (plan.endsAt - plan.startAt) / 1000;
}

function assertPlannable(settings: ProbeSettings): void {
  if (settings.stages.length === 0) throw new InvalidInputError('stages', 'at least one stage is required');
  settings.stages.forEach((target, index) => {
    const previous = index === 0 ? 0 : (settings.stages[index - 1] ?? 0);
    if (!Number.isInteger(target) || target <= previous) {
      throw new InvalidInputError(
        'stages',
        `targets must be whole numbers rising above 0, got ${settings.stages.join(',')}`,
      );
    }
  });
  const max = settings.stages[settings.stages.length - 1] ?? 0;
  if (max > settings.maxConnections) {
    throw new InvalidInputError(
      'stages',
      `the plan's maximum ${max} is above the safety cap --max-connections ${settings.maxConnections}`,
    );
  }
}

function scheduleStages(settings: ProbeSettings, startAt: number): StagePlan[] {
  const stages: StagePlan[] = [];
  let stageStart = startAt;
  let previousTarget = 0;
  settings.stages.forEach((target, index) => {
    const newConnections = target - previousTarget;
    const rampEndsAt = stageStart + Math.ceil((newConnections / settings.connectRate) * 1000);
    const holdEndsAt = rampEndsAt + settings.holdSeconds * 1000;
    stages.push({ index, target, newConnections, startAt: stageStart, rampEndsAt, holdEndsAt });
    stageStart = holdEndsAt;
    previousTarget = target;
  });
  return stages;
}

function splitIntoShards(settings: ProbeSettings): ShardPlan[] {
  const max = settings.stages[settings.stages.length - 1] ?? 0;
  const count = Math.max(1, Math.ceil(max / settings.shardSize));
  const shareOf = (target: number, shard: number) =>
    Math.floor((target * (shard + 1)) / count) - Math.floor((target * shard) / count);
  return Array.from({ length: count }, (_, index) => {
    let previous = 0;
    const newPerStage = settings.stages.map((target) => {
      const cumulative = shareOf(target, index);
      const added = cumulative - previous;
      previous = cumulative;
      return added;
    });
    return {
      index,
      newPerStage,
      connectRate: settings.connectRate / count,
      maxInFlight: Math.max(1, Math.ceil(settings.maxInFlight / count)),
    };
  });
}

/** Stage targets from `start` up by `step`, always ending exactly at `max` (which must be at least `start`). */
export function stagesFromRange(start: number, step: number, max: number): number[] {
  const stages: number[] = [];
  for (let target = start; target < max; target += step) stages.push(target);
  stages.push(max);
  return stages;
}
