import { describe, expect, it } from 'vitest';
import { parseCron, runsPerMonth, type ParsedCron } from '../../functions/config/cron-schedule.js';

/** The parsed cron of a valid expression (fails the test with the problem otherwise). */
function parsed(expression: string): ParsedCron {
  const result = parseCron(expression);
  if ('problem' in result) throw new Error(`${expression}: ${result.problem}`);
  return result.cron;
}

describe('parseCron', () => {
  it.each([
    '0 2 * * ? *',
    '30 3 ? * MON-FRI *',
    '0 6 ? * SUN *',
    '0/15 * * * ? *',
    '0 */6 1,15 JAN-JUN ? 2026-2030',
    '0 2 L * ? *',
    '0 2 LW * ? *',
    '0 2 15W * ? *',
    '0 2 ? * 2#1 *',
    '0 2 ? * FRIL *',
    '0 2 ? * L *',
  ])('accepts %s', (expression) => {
    expect(parseCron(expression)).toHaveProperty('cron');
  });

  it.each([
    ['0 2 * * *', 'has 5 fields; it needs six'],
    ['cron(0 2 * * ? *)', 'without "cron(…)" around them'],
    ['0 2 * * MON *', '"?" in exactly one of day-of-month and day-of-week'],
    ['0 2 ? * ? *', '"?" in exactly one of day-of-month and day-of-week'],
    ['60 2 * * ? *', 'minutes field "60" must be *, a value from 0 to 59'],
    ['0 24 * * ? *', 'hours field "24"'],
    ['0 2 32 * ? *', 'day-of-month field "32"'],
    ['0 2 * 13 ? *', 'month field "13" must be *, a value from 1 to 12 (or JAN-DEC)'],
    ['0 2 ? * MON-XYZ *', 'day-of-week field "MON-XYZ"'],
    ['0 2 * * ? 1900', 'year field "1900"'],
    ['0 5-2 * * ? *', 'hours field "5-2"'],
    ['*/0 2 * * ? *', 'minutes field "*/0"'],
    ['0 2 40W * ? *', 'day-of-month field "40W" must name a day from 1 to 31'],
    ['0 2 ? * 9#1 *', 'day-of-week field "9#1" must start with a weekday'],
  ])('refuses %s', (expression, problem) => {
    const result = parseCron(expression);
    expect(result).toHaveProperty('problem');
    expect('problem' in result && result.problem).toContain(problem);
  });
});

describe('parseCron values', () => {
  it.each([
    ['0 2 * * ? *', { kind: 'days-of-month', days: Array.from({ length: 31 }, (_, i) => i + 1) }],
    ['30 3 ? * MON-FRI *', { kind: 'weekdays', weekdays: [2, 3, 4, 5, 6] }],
    ['0 2 ? * L *', { kind: 'weekdays', weekdays: [7] }],
    ['0 2 L * ? *', { kind: 'last-day-of-month' }],
    ['0 2 LW * ? *', { kind: 'last-working-day' }],
    ['0 2 15W * ? *', { kind: 'nearest-working-day', day: 15 }],
    ['0 2 ? * 2#1 *', { kind: 'nth-weekday', weekday: 2, nth: 1 }],
    ['0 2 ? * FRIL *', { kind: 'last-weekday', weekday: 6 }],
  ])('reads the days of %s', (expression, days) => {
    expect(parsed(expression).days).toEqual(days);
  });

  it('lists the minutes, hours and months each field matches, ascending', () => {
    expect(parsed('45,0/20 */6 * SEP,JAN-FEB ? *')).toMatchObject({
      minutes: [0, 20, 40, 45],
      hours: [0, 6, 12, 18],
      months: [1, 2, 9],
    });
  });
});

describe('runsPerMonth', () => {
  const daysPerMonth = 365.2425 / 12;

  it.each([
    ['0 2 * * ? *', daysPerMonth],
    ['30 3 ? * MON-FRI *', (5 * daysPerMonth) / 7],
    ['0 6 ? * SUN *', daysPerMonth / 7],
    ['0 */6 * * ? *', 4 * daysPerMonth],
    ['0/15 * * * ? *', 4 * 24 * daysPerMonth],
    ['0 2 1 * ? *', 1],
    ['0 2 1,15 * ? *', 2],
    ['0 2 31 * ? *', 7 / 12],
    ['0 2 L * ? *', 1],
    ['0 2 ? * 2#1 *', 1],
    ['0 2 * JAN,JUL ? *', (2 * daysPerMonth) / 12],
  ])('counts %s as %f runs in an average month', (expression, runs) => {
    expect(runsPerMonth(parsed(expression))).toBeCloseTo(runs, 6);
  });
});
