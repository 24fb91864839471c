/**
 * Numbers into the short forms every sentence and report shows them in, each
 * function named after the unit it takes: `formatSeconds` takes seconds,
 * `formatMsAsSeconds` milliseconds. Also the rounding every figure shown or
 * stored goes through, and the placeholder for a figure that does not exist.
 */

/** Placeholder for a figure that does not exist (no ceiling, no latency). */
export const NONE = '–';

/** `value` rounded to `digits` decimals (half away from zero for positives, as Math.round). */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A number to at most one decimal, without trailing zeros: `12.5`, `12`. */
export function formatTenths(value: number): string {
  return String(round(value, 1));
}

/** A duration given in seconds, to `digits` decimals: `12.5 s`. */
export function formatSeconds(seconds: number, digits = 1): string {
  return `${seconds.toFixed(digits)} s`;
}

/** A duration given in milliseconds, shown in seconds to `digits` decimals: 1250 → `1.25 s` (digits 2). */
export function formatMsAsSeconds(ms: number, digits = 1): string {
  return formatSeconds(ms / 1000, digits);
}

/** A duration given in milliseconds, to one decimal: `812.4 ms`. */
export function formatMilliseconds(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}
