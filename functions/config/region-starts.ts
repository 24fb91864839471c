/**
 * When each region's run of a target starts, so runs of one target never
 * overlap: every region's schedule fires on the same cron, and each region's
 * run waits its offset before it plans. By default the regions are staggered
 * in config order, each starting a run's worst-case duration plus a margin
 * after the previous one; `schedule.regionOffsetMinutes` sets the offsets by
 * hand, and must keep them that far apart too. Pure.
 */
import { SCHEDULE_START_PRECISION_SECONDS } from './aws-limits.js';
import type { PlanConfig, TargetConfig } from './config-types.js';
import { stateMachineTimeoutSeconds } from './run-budget.js';
import { workerTimeoutSeconds } from './worker-budget.js';

/** Room between the end of one run of a target (at its worst) and the start of the next. */
export const RUN_SPACING_MARGIN_SECONDS = 300;

/** Longest offset a region's start may have: a day. */
export const MAX_REGION_OFFSET_MINUTES = 1440;

/** One region's start: this many minutes after each time the cron names. */
export interface RegionStart {
  region: string;
  offsetMinutes: number;
}

/**
 * The longest a run of `plan` can take from its scheduled minute until its
 * record step is done: the scheduler's precision and the state machine's
 * timeout (plan, fan-out, workers, record step with its retries), seconds.
 */
export function worstCaseRunSeconds(plan: PlanConfig): number {
  return SCHEDULE_START_PRECISION_SECONDS + stateMachineTimeoutSeconds(workerTimeoutSeconds(plan));
}

/** Whole minutes between the starts of two runs of `plan`: a run at its worst, and the margin. */
export function runSpacingMinutes(plan: PlanConfig): number {
  return Math.ceil((worstCaseRunSeconds(plan) + RUN_SPACING_MARGIN_SECONDS) / 60);
}

/**
 * Each region's start of `target`, in its `regions` order: the offsets the
 * config sets, or else the first region at the cron's time and each next one
 * {@link runSpacingMinutes} later.
 */
export function regionStarts(target: Pick<TargetConfig, 'regions' | 'schedule' | 'plan'>): RegionStart[] {
  const given = target.schedule.regionOffsetMinutes;
  const spacing = runSpacingMinutes(target.plan);
  return target.regions.map((region, index) => ({
    region,
    offsetMinutes: given?.[region] ?? index * spacing,
  }));
}

/** The start offset of `region`'s runs of `target`, seconds (0 for a region the target is not probed from). */
export function regionOffsetSeconds(
  target: Pick<TargetConfig, 'regions' | 'schedule' | 'plan'>,
  region: string,
): number {
  return (regionStarts(target).find((start) => start.region === region)?.offsetMinutes ?? 0) * 60;
}

/** Minutes from the first region's start to the last one's. */
export function regionSpreadMinutes(starts: readonly RegionStart[]): number {
  const offsets = starts.map((start) => start.offsetMinutes);
  return Math.max(...offsets) - Math.min(...offsets);
}

/**
 * A region that starts too soon after another (closer than a run at its
 * worst plus the margin), or an offset map that names a region the target
 * is not probed from or leaves one out; the field is under `schedule`.
 */
export function regionStartProblem(
  target: Pick<TargetConfig, 'id' | 'regions' | 'schedule' | 'plan'>,
): { path: string[]; message: string } | undefined {
  const given = target.schedule.regionOffsetMinutes;
  if (given === undefined) return undefined;
  const field = ['schedule', 'regionOffsetMinutes'];
  const unknown = Object.keys(given).find((region) => !target.regions.includes(region));
  if (unknown !== undefined) {
    return {
      path: [...field, unknown],
      message: `names a region the target is not probed from (its regions: ${target.regions.join(', ')})`,
    };
  }
  const missing = target.regions.find((region) => given[region] === undefined);
  if (missing !== undefined) {
    return {
      path: field,
      message:
        `gives no offset for ${missing}: give one for every region of the target, or leave it out to stagger ` + 'them',
    };
  }
  const spacing = runSpacingMinutes(target.plan);
  const worst = Math.ceil(worstCaseRunSeconds(target.plan) / 60);
  const sorted = regionStarts(target).sort((a, b) => a.offsetMinutes - b.offsetMinutes);
  for (let index = 1; index < sorted.length; index += 1) {
    const before = sorted[index - 1];
    const start = sorted[index];
    if (!before || !start || start.offsetMinutes - before.offsetMinutes >= spacing) continue;
    return {
      path: [...field, start.region],
      message:
        `starts ${start.offsetMinutes - before.offsetMinutes} min after ${before.region}, but a run of ` +
        `${target.id} can take up to ${worst} min: set the regions at least ${spacing} min apart so their runs ` +
        'never overlap (or leave regionOffsetMinutes out to stagger them by that much)',
    };
  }
  return undefined;
}
