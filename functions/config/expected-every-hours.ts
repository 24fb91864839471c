/**
 * How long a target may go without any run reporting before its probe-missing
 * alarm pages (`schedule.expectedEveryHours`). A run's datapoint is stamped
 * with its start and arrives when its record step ends, so the alarm's window
 * must be longer than the longest gap between two scheduled starts (its cron
 * in its time zone, daylight saving included) plus the longest a run can take
 * to report. Anything shorter pages between two good runs. The smallest
 * allowed value, in whole hours, is also the default.
 */
import { ALARM_MAX_EVALUATION_RANGE_SECONDS } from './aws-limits.js';
import type { PlanConfig, ScheduleConfig } from './config-types.js';
import { fireGaps, type FireGaps } from './cron-fire-times.js';
import { parseCron } from './cron-schedule.js';
import { worstCaseRunSeconds } from './region-starts.js';

/** The longest window CloudWatch evaluates an alarm over: seven days. */
export const MAX_EXPECTED_EVERY_HOURS = ALARM_MAX_EVALUATION_RANGE_SECONDS / 3600;

/** What the smallest `expectedEveryHours` of a target is made of. */
export interface ExpectedEveryMinimum {
  /** Longest time between two scheduled starts, seconds. */
  gapSeconds: number;
  /**
   * Longest a run takes to report after its scheduled minute: the start precision and the state machine's timeout,
   * seconds.
   */
  runSeconds: number;
  /** Smallest whole number of hours longer than both together (may be above {@link MAX_EXPECTED_EVERY_HOURS}). */
  hours: number;
}

const gapCache = new Map<string, FireGaps>();

/**
 * The longest and shortest gaps of a valid cron in its time zone over the
 * calendar years from `fromYear`, read once per process for each schedule
 * (the schema, the expected window and the overlap check all ask).
 */
export function scheduleFireGaps(schedule: Pick<ScheduleConfig, 'cron' | 'timeZone'>, fromYear: number): FireGaps {
  const key = `${schedule.cron}\n${schedule.timeZone}\n${fromYear}`;
  let gaps = gapCache.get(key);
  if (gaps === undefined) {
    const parsed = parseCron(schedule.cron);
    if ('problem' in parsed) throw new RangeError(`schedule.cron "${schedule.cron}" ${parsed.problem}`);
    gaps = fireGaps(parsed.cron, schedule.timeZone, fromYear);
    gapCache.set(key, gaps);
  }
  return gaps;
}

/**
 * The smallest `expectedEveryHours` for a target scheduled on `schedule` with
 * `plan`, its cron's gaps read over the calendar years from `fromYear`. The
 * cron must be valid (the schema checks it first).
 */
export function minimumExpectedEveryHours(
  schedule: Pick<ScheduleConfig, 'cron' | 'timeZone'>,
  plan: PlanConfig,
  fromYear: number,
): ExpectedEveryMinimum {
  const gapSeconds = scheduleFireGaps(schedule, fromYear).largestSeconds;
  const runSeconds = worstCaseRunSeconds(plan);
  return { gapSeconds, runSeconds, hours: Math.floor((gapSeconds + runSeconds) / 3600) + 1 };
}
