import { describe, expect, it } from 'vitest';
import { fireGaps, largestFireGapSeconds, nextFireAfter } from '../../functions/config/cron-fire-times.js';
import { parseCron, type ParsedCron } from '../../functions/config/cron-schedule.js';
import { SCHEDULE_START_PRECISION_SECONDS } from '../../functions/config/aws-limits.js';
import { minimumExpectedEveryHours } from '../../functions/config/expected-every-hours.js';
import { stateMachineTimeoutSeconds } from '../../functions/config/run-budget.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import { workerTimeoutSeconds } from '../../functions/config/worker-budget.js';

/** The parsed cron of a valid expression. */
function cron(expression: string): ParsedCron {
  const result = parseCron(expression);
  if ('problem' in result) throw new Error(`${expression}: ${result.problem}`);
  return result.cron;
}

const HOUR = 3600;

describe('largestFireGapSeconds', () => {
  it.each([
    ['0 2 * * ? *', 'UTC', 24],
    // Spring: 02:00 does not exist that Sunday, so there is no run from Saturday 02:00 to Monday 02:00.
    ['0 2 * * ? *', 'Europe/Paris', 47],
    // Autumn: 03:00 comes 25 h after the day before's.
    ['0 3 * * ? *', 'Europe/Paris', 25],
    ['30 2 * * ? *', 'America/New_York', 47],
    ['0 6 * * ? *', 'America/New_York', 25],
    ['30 3 ? * MON-FRI *', 'UTC', 72],
    ['0 6 ? * SUN,WED *', 'America/New_York', 97],
    ['0 */6 * * ? *', 'UTC', 6],
    // The quarter hours of 02:00 to 02:45 do not exist on the spring change.
    ['0/15 * * * ? *', 'Europe/Paris', 1.25],
    ['0 2 * * ? *', 'Asia/Kolkata', 24],
  ])('is %s in %s: %f h', (expression, timeZone, hours) => {
    expect(largestFireGapSeconds(cron(expression), timeZone, 2026)).toBe(hours * HOUR);
  });

  it('measures the gaps between months and around month ends', () => {
    expect(largestFireGapSeconds(cron('0 2 1 * ? *'), 'UTC', 2026)).toBe(31 * 24 * HOUR);
    expect(largestFireGapSeconds(cron('0 2 L * ? *'), 'UTC', 2026)).toBe(31 * 24 * HOUR);
    // Days 1 to 28: from the 28th of a 31-day month to the 1st is 4 days.
    expect(largestFireGapSeconds(cron('0 2 1-28 * ? *'), 'UTC', 2026)).toBe(4 * 24 * HOUR);
    // The first Monday of a month: 5 weeks apart at most.
    expect(largestFireGapSeconds(cron('0 2 ? * 2#1 *'), 'UTC', 2026)).toBe(35 * 24 * HOUR);
  });

  it('reads a weekday-nearest day within its month', () => {
    // The weekday nearest the 1st: a Saturday 1st moves to Monday the 3rd, never to the month before.
    const gap = largestFireGapSeconds(cron('0 2 1W * ? *'), 'UTC', 2026);
    expect(gap).toBeGreaterThan(28 * 24 * HOUR);
    expect(gap).toBeLessThanOrEqual(33 * 24 * HOUR);
  });

  it('is infinite for a cron that never fires', () => {
    expect(largestFireGapSeconds(cron('0 2 31 FEB ? *'), 'UTC', 2026)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('minimumExpectedEveryHours', () => {
  const plan = parseTargetConfig(
    {
      id: 'chat',
      url: 'wss://chat.example.com/',
      regions: ['eu-west-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
    },
    'test target',
  ).plan;

  it("is the first whole hour past the longest gap plus the scheduler's minute and the state machine's timeout", () => {
    const runSeconds = SCHEDULE_START_PRECISION_SECONDS + stateMachineTimeoutSeconds(workerTimeoutSeconds(plan));
    expect(minimumExpectedEveryHours({ cron: '0 2 * * ? *', timeZone: 'Europe/Paris' }, plan, 2026)).toEqual({
      gapSeconds: 47 * HOUR,
      runSeconds,
      hours: 48,
    });
    expect(minimumExpectedEveryHours({ cron: '0 2 * * ? *', timeZone: 'UTC' }, plan, 2026).hours).toBe(25);
  });

  it('moves to the next hour when the gap and the run add up to a whole hour exactly', () => {
    const runSeconds = SCHEDULE_START_PRECISION_SECONDS + stateMachineTimeoutSeconds(workerTimeoutSeconds(plan));
    expect(Math.floor((24 * HOUR + runSeconds) / HOUR) + 1).toBe(25);
    // A window exactly as long as gap + run would page at the moment a late run reports: it must be longer.
    expect(
      minimumExpectedEveryHours({ cron: '0 2 * * ? *', timeZone: 'UTC' }, plan, 2026).hours * HOUR,
    ).toBeGreaterThan(24 * HOUR + runSeconds);
  });
});

describe('fireGaps', () => {
  it('gives the shortest gap too, daylight saving included', () => {
    expect(fireGaps(cron('0 2 * * ? *'), 'Europe/Paris', 2027)).toEqual({
      largestSeconds: 47 * 3600,
      // In autumn 02:00 comes twice and runs once (the first): 24 h after the day before's.
      smallestSeconds: 24 * 3600,
    });
    expect(fireGaps(cron('0,30 0 * * ? *'), 'UTC', 2027).smallestSeconds).toBe(30 * 60);
  });

  it('reads the year field: a cron of one year has no gap after it', () => {
    expect(fireGaps(cron('0 2 1 1 ? 2028'), 'UTC', 2027).largestSeconds).toBe(Number.POSITIVE_INFINITY);
    expect(fireGaps(cron('0 2 1 1 ? 2028,2029'), 'UTC', 2027).largestSeconds).toBe(366 * 86_400);
  });
});

describe('nextFireAfter', () => {
  const at = Date.UTC(2027, 2, 10, 12, 0);

  it('finds the next fire time in the time zone, skipping years the year field leaves out', () => {
    expect(nextFireAfter(cron('0 2 * * ? *'), 'UTC', at)).toBe(Date.UTC(2027, 2, 11, 2, 0));
    expect(nextFireAfter(cron('0 2 * * ? *'), 'Europe/Paris', at)).toBe(Date.UTC(2027, 2, 11, 1, 0));
    expect(nextFireAfter(cron('0 2 1 1 ? 2030-2031'), 'UTC', at)).toBe(Date.UTC(2030, 0, 1, 2, 0));
  });

  it('finds none for a past year or a day that never comes', () => {
    expect(nextFireAfter(cron('0 2 * * ? 2020-2026'), 'UTC', at)).toBeUndefined();
    expect(nextFireAfter(cron('0 2 30 2 ? *'), 'UTC', at)).toBeUndefined();
  });
});
