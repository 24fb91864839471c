/**
 * When a target's schedule fires: the instants an EventBridge Scheduler cron
 * matches in its IANA time zone, and the longest it goes without firing. The
 * scheduler reads the cron in local time across daylight-saving changes: a
 * local time the spring change skips does not fire that day, and a local
 * time the autumn change repeats fires once (taken here as the first). So a
 * daily 02:00 in Europe/Paris goes 47 h without a run in spring and 25 h in
 * autumn. Also when it fires next, for a cron whose year field has passed.
 * Pure: the time zone rules are the runtime's (Intl).
 */
import type { CronDays, ParsedCron } from './cron-schedule.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Calendar years scanned, from the first one asked for: every daylight-saving change, and a leap year. */
const FIRE_GAP_SCAN_YEARS = 4;
/** Days scanned past the last year, so the gap after its last run of a year is measured too. */
const LOOKAHEAD_DAYS = 8;

/** The longest and the shortest time between two consecutive fire times, seconds. */
export interface FireGaps {
  /** Infinity when the cron fires less than twice in the span read. */
  largestSeconds: number;
  /** Infinity when the cron fires less than twice in the span read. */
  smallestSeconds: number;
}

/**
 * The longest time, in seconds, between two consecutive fire times of `cron`
 * in `timeZone` over the {@link FIRE_GAP_SCAN_YEARS} calendar years from
 * `fromYear` and a few days more, in the years its year field names.
 * Infinity when it fires less than twice in that span.
 */
export function largestFireGapSeconds(cron: ParsedCron, timeZone: string, fromYear: number): number {
  return fireGaps(cron, timeZone, fromYear).largestSeconds;
}

/**
 * The longest and shortest gaps between consecutive fire times of `cron` in
 * `timeZone` over the {@link FIRE_GAP_SCAN_YEARS} calendar years from
 * `fromYear` (and a few days more), daylight saving included.
 */
export function fireGaps(cron: ParsedCron, timeZone: string, fromYear: number): FireGaps {
  const offsets = offsetReader(timeZone);
  const end = Date.UTC(fromYear + FIRE_GAP_SCAN_YEARS, 0, 1) + LOOKAHEAD_DAYS * DAY_MS;
  let previous: number | undefined;
  let largest = Number.NEGATIVE_INFINITY;
  let smallest = Number.POSITIVE_INFINITY;
  for (let day = Date.UTC(fromYear, 0, 1); day < end; day += DAY_MS) {
    if (!firesOnDate(cron, new Date(day))) continue;
    for (const fire of fireInstantsOn(day, cron, offsets)) {
      if (previous !== undefined) {
        largest = Math.max(largest, fire - previous);
        smallest = Math.min(smallest, fire - previous);
      }
      previous = fire;
    }
  }
  return largest === Number.NEGATIVE_INFINITY
    ? { largestSeconds: Number.POSITIVE_INFINITY, smallestSeconds: Number.POSITIVE_INFINITY }
    : { largestSeconds: largest / 1000, smallestSeconds: smallest / 1000 };
}

/**
 * The first instant (epoch milliseconds) after `after` at which `cron` fires
 * in `timeZone`, or undefined when it never fires again: its year field
 * names only past years, or the days it names never come (such as 30
 * February) in the years left.
 */
export function nextFireAfter(cron: ParsedCron, timeZone: string, after: number): number | undefined {
  const offsets = offsetReader(timeZone);
  const lastYear = Math.max(...cron.years);
  const start = new Date(after + offsets(after));
  for (
    let day = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()) - DAY_MS;
    new Date(day).getUTCFullYear() <= lastYear;
    day += DAY_MS
  ) {
    const date = new Date(day);
    if (!cron.years.includes(date.getUTCFullYear())) {
      // Straight to the first day of the next year.
      day = Date.UTC(date.getUTCFullYear() + 1, 0, 1) - DAY_MS;
      continue;
    }
    if (!firesOnDate(cron, date)) continue;
    const next = fireInstantsOn(day, cron, offsets).find((fire) => fire > after);
    if (next !== undefined) return next;
  }
  return undefined;
}

/** True when `cron` fires on the local calendar date `date` (its UTC fields): its year, month and day. */
function firesOnDate(cron: ParsedCron, date: Date): boolean {
  return (
    cron.years.includes(date.getUTCFullYear()) &&
    cron.months.includes(date.getUTCMonth() + 1) &&
    firesOnDay(cron.days, date)
  );
}

/**
 * The instants, ascending, at which `cron` fires on the local calendar day starting at wall-clock `dayWall` (as a UTC
 * number).
 */
function fireInstantsOn(dayWall: number, cron: ParsedCron, offsetAt: (instant: number) => number): number[] {
  const walls = cron.hours.flatMap((hour) =>
    cron.minutes.map((minute) => dayWall + hour * 3_600_000 + minute * MINUTE_MS),
  );
  const before = offsetAt(dayWall - DAY_MS);
  if (before === offsetAt(dayWall + 2 * DAY_MS)) return walls.map((wall) => wall - before);
  return walls.map((wall) => instantOf(wall, offsetAt)).filter((instant): instant is number => instant !== undefined);
}

/**
 * The first instant whose local wall-clock time is `wall`, or undefined when
 * the daylight-saving change skips it. The offset on either side of a change
 * is the offset a day before or a day after.
 */
function instantOf(wall: number, offsetAt: (instant: number) => number): number | undefined {
  const candidates = [offsetAt(wall - DAY_MS), offsetAt(wall + DAY_MS)]
    .map((offset) => wall - offset)
    .filter((instant) => instant + offsetAt(instant) === wall);
  return candidates.length === 0 ? undefined : Math.min(...candidates);
}

/** A reader of `timeZone`'s offset from UTC (milliseconds, local minus UTC) at an instant. */
function offsetReader(timeZone: string): (instant: number) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return (instant) => {
    const parts = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, Number(part.value)]));
    const wall = Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, parts.day, parts.hour, parts.minute, parts.second);
    return wall - (instant - (((instant % 1000) + 1000) % 1000));
  };
}

/** True when the local calendar date `date` (its UTC fields) is one of `days`. */
function firesOnDay(days: CronDays, date: Date): boolean {
  const day = date.getUTCDate();
  const weekday = date.getUTCDay() + 1;
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  switch (days.kind) {
    case 'days-of-month':
      return days.days.includes(day);
    case 'last-day-of-month':
      return day === lastDay;
    case 'last-working-day':
      return day === nearestWorkingDay(date, lastDay, lastDay);
    case 'nearest-working-day':
      return days.day <= lastDay && day === nearestWorkingDay(date, days.day, lastDay);
    case 'weekdays':
      return days.weekdays.includes(weekday);
    case 'nth-weekday':
      return weekday === days.weekday && Math.ceil(day / 7) === days.nth;
    case 'last-weekday':
      return weekday === days.weekday && day + 7 > lastDay;
  }
}

/**
 * The Monday-to-Friday nearest `target` in the month of `date`, never
 * leaving the month: a Saturday moves to the Friday before (or the Monday
 * after, on the 1st), a Sunday to the Monday after (or the Friday before, on
 * the last day).
 */
function nearestWorkingDay(date: Date, target: number, lastDay: number): number {
  const weekday = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), target)).getUTCDay();
  if (weekday === 6) return target === 1 ? 3 : target - 1;
  if (weekday === 0) return target === lastDay ? target - 2 : target + 1;
  return target;
}
