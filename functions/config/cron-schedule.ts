/**
 * EventBridge Scheduler cron expressions: the six fields a target's schedule
 * is written in (minutes hours day-of-month month day-of-week year), checked
 * field by field and reduced to the values each field matches, and how many
 * runs a month one of them makes (for the cost estimate of `ws-ceiling
 * config check`). When it fires in a time zone is cron-fire-times.ts. Pure.
 */

/** Days in an average Gregorian month (365.2425 / 12). */
const DAYS_PER_MONTH = 365.2425 / 12;
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** One numeric field: its name in messages, its bounds and the names it accepts (the first is `min`). */
interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MINUTES: FieldSpec = { name: 'minutes', min: 0, max: 59 };
const HOURS: FieldSpec = { name: 'hours', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTH_NAMES };
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 1, max: 7, names: WEEKDAY_NAMES };
const YEAR: FieldSpec = { name: 'year', min: 1970, max: 2199 };

/**
 * The days a cron fires on, from whichever of its two day fields is not `?`.
 * Weekdays are numbered as EventBridge does: 1 = SUN … 7 = SAT.
 */
export type CronDays =
  /** Listed days of the month (a day a month lacks, such as 31 in April, does not fire). */
  | { kind: 'days-of-month'; days: number[] }
  /** `L`: the last day of the month. */
  | { kind: 'last-day-of-month' }
  /** `LW`: the last Monday-to-Friday of the month. */
  | { kind: 'last-working-day' }
  /** `nW`: the Monday-to-Friday nearest day `n`, within the month. */
  | { kind: 'nearest-working-day'; day: number }
  /** Listed weekdays (`L` alone is 7, Saturday). */
  | { kind: 'weekdays'; weekdays: number[] }
  /** `n#k`: the k-th weekday `n` of the month. */
  | { kind: 'nth-weekday'; weekday: number; nth: number }
  /** `nL`: the last weekday `n` of the month. */
  | { kind: 'last-weekday'; weekday: number };

/** A valid cron expression: the values each field matches, ascending. */
export interface ParsedCron {
  minutes: number[];
  hours: number[];
  days: CronDays;
  /** 1 = JAN … 12 = DEC. */
  months: number[];
  /** The years it may fire in, 1970 to 2199 (`*` lists them all). */
  years: number[];
}

/** A parsed expression, or what is wrong with it in plain words. */
export type CronParse = { cron: ParsedCron } | { problem: string };

/**
 * Checks an EventBridge Scheduler cron body such as `0 2 * * ? *` (six
 * fields; exactly one of day-of-month and day-of-week is `?`) and reduces it
 * to counts. Supports `*`, `?`, lists, ranges, steps, month and weekday
 * names, and `L`, `W`, `#` in the day fields.
 */
export function parseCron(expression: string): CronParse {
  if (/^\s*cron\(/.test(expression)) return { problem: 'must be the six fields alone, without "cron(…)" around them' };
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return {
      problem:
        `has ${fields.length} field${fields.length === 1 ? '' : 's'}; it needs six: minutes hours ` +
        'day-of-month month day-of-week year',
    };
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    return {
      problem: 'needs "?" in exactly one of day-of-month and day-of-week (e.g. "0 2 * * ? *" or "0 2 ? * MON-FRI *")',
    };
  }
  const minuteValues = expand(minutes, MINUTES);
  if (typeof minuteValues === 'string') return { problem: minuteValues };
  const hourValues = expand(hours, HOURS);
  if (typeof hourValues === 'string') return { problem: hourValues };
  const days = dayOfMonth === '?' ? parseWeekdays(dayOfWeek) : parseMonthDays(dayOfMonth);
  if (typeof days === 'string') return { problem: days };
  const monthValues = expand(month, MONTH);
  if (typeof monthValues === 'string') return { problem: monthValues };
  const yearValues = expand(year, YEAR);
  if (typeof yearValues === 'string') return { problem: yearValues };
  return { cron: { minutes: minuteValues, hours: hourValues, days, months: monthValues, years: yearValues } };
}

/** Runs an expression makes in an average month (the year field is assumed to match). */
export function runsPerMonth(cron: ParsedCron): number {
  return cron.minutes.length * cron.hours.length * daysPerMonth(cron.days) * (cron.months.length / 12);
}

/** The values a numeric field matches, ascending, or the problem with it. */
function expand(field: string, spec: FieldSpec): number[] | string {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const range = parseRange(part, spec);
    if (typeof range === 'string') return range;
    for (let value = range.from; value <= range.to; value += range.step) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

/** `*`, `a`, `a-b`, each with an optional `/step`. */
function parseRange(part: string, spec: FieldSpec): { from: number; to: number; step: number } | string {
  const match = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d+))?$/.exec(part);
  const names = spec.names ? ` (or ${spec.names[0]}-${spec.names[spec.names.length - 1]})` : '';
  const invalid =
    `${spec.name} field "${part}" must be *, a value from ${spec.min} to ${spec.max}${names}` +
    ', a range a-b or a step like */5';
  if (!match) return invalid;
  const [bounds = '', stepText] = match.slice(1);
  const step = stepText === undefined ? 1 : Number(stepText);
  if (step < 1) return invalid;
  if (bounds === '*') return { from: spec.min, to: spec.max, step };
  const [fromText = '', toText] = bounds.split('-');
  const from = valueOf(fromText, spec);
  const to = toText === undefined ? (stepText === undefined ? from : spec.max) : valueOf(toText, spec);
  if (from === undefined || to === undefined || from > to) return invalid;
  return { from, to, step };
}

/** A number or a name within the field's bounds. */
function valueOf(text: string, spec: FieldSpec): number | undefined {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  const value = named >= 0 ? spec.min + named : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  return value >= spec.min && value <= spec.max ? value : undefined;
}

/** The days of a day-of-month field: a list, `L`, `LW` or `nW`. */
function parseMonthDays(field: string): CronDays | string {
  if (field === 'L') return { kind: 'last-day-of-month' };
  if (field === 'LW') return { kind: 'last-working-day' };
  const weekday = /^(\d+)W$/.exec(field);
  if (weekday) {
    const day = Number(weekday[1]);
    return day >= 1 && day <= 31
      ? { kind: 'nearest-working-day', day }
      : `day-of-month field "${field}" must name a day from 1 to 31 before W`;
  }
  const days = expand(field, DAY_OF_MONTH);
  return typeof days === 'string' ? days : { kind: 'days-of-month', days };
}

/** The days of a day-of-week field: a list, `L` (Saturday), `n#k` or `nL`. */
function parseWeekdays(field: string): CronDays | string {
  const special = /^([0-9A-Za-z]+)(#[1-5]|L)$/.exec(field);
  if (special) {
    const weekday = valueOf(special[1] ?? '', DAY_OF_WEEK);
    if (weekday === undefined) return `day-of-week field "${field}" must start with a weekday 1-7 or SUN-SAT`;
    return special[2] === 'L'
      ? { kind: 'last-weekday', weekday }
      : { kind: 'nth-weekday', weekday, nth: Number(special[2]?.slice(1)) };
  }
  const weekdays = expand(field === 'L' ? '7' : field, DAY_OF_WEEK);
  return typeof weekdays === 'string' ? weekdays : { kind: 'weekdays', weekdays };
}

/** Expected matching days in an average month (`L`, `LW`, `nW`, `n#k` and `nL` count as one day each). */
function daysPerMonth(days: CronDays): number {
  switch (days.kind) {
    case 'days-of-month':
      return days.days.reduce((sum, day) => sum + shareOfMonthsWithDay(day), 0);
    case 'weekdays':
      return (days.weekdays.length * DAYS_PER_MONTH) / 7;
    case 'last-day-of-month':
    case 'last-working-day':
    case 'nearest-working-day':
    case 'nth-weekday':
    case 'last-weekday':
      return 1;
  }
}

/** Share of months that have a day numbered `day` (29: all but most Februaries; 31: seven months). */
function shareOfMonthsWithDay(day: number): number {
  if (day <= 28) return 1;
  if (day === 29) return (11 + 97 / 400) / 12;
  return day === 30 ? 11 / 12 : 7 / 12;
}
