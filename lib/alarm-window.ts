/**
 * How the probe-missing alarm watches a target: the window in which a run is
 * expected to report (`schedule.expectedEveryHours`) cut into CloudWatch
 * alarm periods. CloudWatch allows a period of at most one day (a multiple
 * of 60 s) and an evaluation range (period × periods) of at most seven days,
 * so a window longer than a day is split into equal periods, each of which
 * must breach (no run reported in it) for the alarm to fire.
 */

import {
  ALARM_MAX_EVALUATION_RANGE_SECONDS as MAX_EVALUATION_RANGE_SECONDS,
  ALARM_MAX_PERIOD_SECONDS as MAX_ALARM_PERIOD_SECONDS,
} from '../functions/config/aws-limits.js';

/** An alarm's period and how many periods it evaluates. */
export interface AlarmWindow {
  /** Length of one period, seconds (a multiple of 60, at most a day). */
  periodSeconds: number;
  /** Periods evaluated; every one of them must breach. */
  evaluationPeriods: number;
}

/**
 * The period and evaluation periods covering `expectedEveryHours` (1 to 168):
 * one period when it fits a day, otherwise the fewest equal periods of whole
 * minutes, each at most a day.
 */
export function missingRunWindow(expectedEveryHours: number): AlarmWindow {
  const seconds = expectedEveryHours * 3600;
  if (!Number.isFinite(seconds) || expectedEveryHours < 1 || seconds > MAX_EVALUATION_RANGE_SECONDS) {
    throw new RangeError(`schedule.expectedEveryHours must be from 1 to 168 hours, got ${expectedEveryHours}`);
  }
  const evaluationPeriods = Math.ceil(seconds / MAX_ALARM_PERIOD_SECONDS);
  const periodSeconds = Math.ceil(seconds / evaluationPeriods / 60) * 60;
  return { periodSeconds, evaluationPeriods };
}
