/**
 * Short text forms of run figures shared by every output (terminal, Markdown,
 * JUnit, HTML): a ceiling, latency percentiles, a change in percent, a
 * baseline, a UTC time. The failure mix in words is the engine's
 * (words/failure-phrases.ts), as are units and the placeholder NONE.
 */
import { regressionThreshold } from '../engine/baseline.js';
import type { Baseline, LatencyPercentiles, PublicSettings, RunResult } from '../engine/types.js';
import { NONE } from '../engine/units.js';

/** A ceiling in a word: `150`, `>= 200` when the plan's maximum held, or `–` when none was claimed. */
export function formatCeiling(ceiling: RunResult['ceiling']): string {
  if (ceiling.value === null) return NONE;
  return ceiling.reached ? String(ceiling.value) : `>= ${ceiling.value}`;
}

/**
 * A ceiling in a phrase: `150 concurrent connections (held 30 s within
 * tolerance)`, `>= 200 (the plan's maximum held 30 s; no limit found)`, or
 * `not measured`. Without settings (a deployed run's verdict) the hold is
 * left out: `150 concurrent connections`, `>= 200 (the plan's maximum held;
 * no limit found)`.
 */
export function describeCeiling(
  run: Pick<RunResult, 'ceiling'> & { settings?: Pick<PublicSettings, 'holdSeconds'> },
): string {
  const { ceiling, settings } = run;
  if (ceiling.value === null) return 'not measured';
  const held = settings ? ` ${settings.holdSeconds} s` : '';
  if (!ceiling.reached) return `${formatCeiling(ceiling)} (the plan's maximum held${held}; no limit found)`;
  return `${formatCeiling(ceiling)} concurrent connections${settings ? ` (held${held} within tolerance)` : ''}`;
}

/**
 * The paragraphs that explain a run: its verdict reason, then the limiting
 * factor's summary when the reason does not already say it (as when the
 * verdict is about a baseline or a floor).
 */
export function explainRun(run: Pick<RunResult, 'verdictReason' | 'limitingFactor'>): string[] {
  const summary = run.limitingFactor?.summary;
  return summary && !run.verdictReason.includes(summary) ? [run.verdictReason, summary] : [run.verdictReason];
}

/** Milliseconds to one decimal, or `–`. */
export function formatMs(value: number | null): string {
  return value === null ? NONE : value.toFixed(1);
}

/** `p50 / p95 / p99` in milliseconds to one decimal, `–` where missing. */
export function formatLatency(latency: LatencyPercentiles): string {
  return `${formatMs(latency.p50)} / ${formatMs(latency.p95)} / ${formatMs(latency.p99)}`;
}

/** A fraction as a signed percentage with at most one decimal: `-25 %`, `+8.3 %`, `0 %`. */
export function formatChange(fraction: number): string {
  const percent = roundPercent(fraction);
  return `${percent > 0 ? '+' : ''}${percent} %`;
}

/** A fraction as a percentage with at most one decimal: `75 %`, `66.7 %`. */
export function formatPercent(fraction: number): string {
  return `${roundPercent(fraction)} %`;
}

function roundPercent(fraction: number): number {
  return Math.round(fraction * 1000) / 10 || 0;
}

/**
 * A baseline and where the run stands against it: `200 (median of 7 earlier
 * runs): this run is 75 % of it; under 180 is a regression`.
 */
export function formatBaseline(baseline: Baseline): string {
  const base = `${baseline.value} (median of ${baseline.runs} earlier run${baseline.runs === 1 ? '' : 's'})`;
  const threshold = `under ${regressionThreshold(baseline)} is a regression`;
  if (baseline.ratio === null) return `${base}: no ceiling to compare; ${threshold}`;
  return `${base}: this run is ${formatPercent(baseline.ratio)} of it; ${threshold}`;
}

/** An ISO-8601 time as `2025-03-01 10:00:00 UTC`. */
export function formatUtc(iso: string): string {
  return `${iso.replace('T', ' ').slice(0, 19)} UTC`;
}
