/**
 * Baseline and regression: judges a run against the earlier runs of the same
 * target with the same settings. The baseline is the median ceiling of the
 * last N completed comparable runs; a completed run whose ceiling falls under
 * `baseline × (1 − regression tolerance)` is `regressed`. Pure: the record
 * step reads the history from the store and hands it in.
 */
import { percentile } from './percentiles.js';
import { round } from './units.js';
import type { Baseline, ProbeSettings, RunResult, Verdict } from './types.js';

/** Completed runs the baseline is the median of, unless told otherwise. */
export const DEFAULT_BASELINE_RUNS = 7;
/** Allowed fall under the baseline before `regressed`, unless told otherwise (0.1 is 10 %). */
export const DEFAULT_REGRESSION_TOLERANCE = 0.1;
/**
 * Fewest comparable runs a baseline is taken over (or `baselineRuns`, when
 * that is smaller): one or two runs are too few to tell a regression from noise.
 */
export const MIN_BASELINE_RUNS = 3;

/** What judging against history needs from the settings. */
export type BaselineSettings = Pick<ProbeSettings, 'baselineRuns' | 'regressionTolerance'>;

/** Verdicts of a run that measured something (the probe succeeded). */
const SUCCESSFUL_VERDICTS: ReadonlySet<Verdict> = new Set(['ok', 'regressed', 'below-floor']);

/**
 * Digits the regression thresholds are rounded to, so 1 − 0.18 is exactly
 * 0.82 and 200 × (1 − 0.1) is exactly 180.
 */
const THRESHOLD_DIGITS = 6;
/**
 * Digits a ratio is rounded to before it is stored and published. The ratio
 * threshold has {@link THRESHOLD_DIGITS} digits, so a ceiling under the
 * threshold has a ratio at least 1e-6 / 100,000 = 1e-11 under it: twelve
 * digits keep it under, so the published ratio is under the alarm's
 * threshold exactly when the verdict is a regression.
 */
const RATIO_DIGITS = 12;

/** True when the verdict is one of a run that measured something: `ok`, `regressed` or `below-floor`. */
export function isSuccessfulVerdict(verdict: Verdict): boolean {
  return SUCCESSFUL_VERDICTS.has(verdict);
}

/**
 * The ceiling of a completed run (a successful verdict and a ceiling value),
 * or null for a failed or inconclusive run or one that claims no ceiling. A
 * `reached: false` ceiling (the plan's maximum held) counts with its value.
 */
export function completedCeiling(run: Pick<RunResult, 'verdict' | 'ceiling'>): number | null {
  return isSuccessfulVerdict(run.verdict) ? run.ceiling.value : null;
}

/**
 * The ceilings the baseline of `run` is taken over, newest first: at most
 * `baselineRuns` completed runs of the same target with the same config hash
 * that started before it, the run itself (same run id) excluded. `history`
 * may come in any order and hold other targets.
 */
export function comparableCeilings(
  run: Pick<RunResult, 'runId' | 'targetId' | 'configHash' | 'startedAt'>,
  history: readonly RunResult[],
  baselineRuns: number,
): number[] {
  return history
    .filter(
      (earlier) =>
        earlier.runId !== run.runId &&
        earlier.targetId === run.targetId &&
        earlier.configHash === run.configHash &&
        earlier.startedAt < run.startedAt,
    )
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
    .flatMap((earlier) => {
      const ceiling = completedCeiling(earlier);
      return ceiling === null ? [] : [ceiling];
    })
    .slice(0, baselineRuns);
}

/**
 * The baseline of `run`: the median ceiling of its comparable earlier runs
 * (see {@link comparableCeilings}). With an even count the median is the lower
 * of the two middle ceilings, so the baseline is always a ceiling that was
 * measured and errs low (fewer false regressions). Null when fewer than
 * `min(MIN_BASELINE_RUNS, baselineRuns)` comparable runs exist. `ratio` is
 * this run's ceiling over the baseline, null when the run is not completed.
 */
export function computeBaseline(
  run: RunResult,
  history: readonly RunResult[],
  settings: BaselineSettings,
): Baseline | null {
  const ceilings = comparableCeilings(run, history, settings.baselineRuns);
  const value = percentile(ceilings, 50);
  if (value === null || ceilings.length < Math.min(MIN_BASELINE_RUNS, settings.baselineRuns)) return null;
  const ceiling = completedCeiling(run);
  return {
    value,
    runs: ceilings.length,
    ratio: ceiling === null ? null : ceilingRatio(ceiling, value),
    regressionTolerance: settings.regressionTolerance,
  };
}

/**
 * A ceiling over its baseline as stored and published (`CeilingToBaseline`), rounded to {@link RATIO_DIGITS} digits.
 */
export function ceilingRatio(ceiling: number, baselineValue: number): number {
  return round(ceiling / baselineValue, RATIO_DIGITS);
}

/**
 * The ratio under which a ceiling is a regression: `1 − regression tolerance`,
 * rounded to {@link THRESHOLD_DIGITS} digits (0.82 for 0.18, never
 * 0.8200000000000001). The verdict and the regression alarm's threshold both
 * come from here.
 */
export function regressionRatioThreshold(regressionTolerance: number): number {
  return round(1 - regressionTolerance, THRESHOLD_DIGITS);
}

/**
 * The ceiling a run must reach not to be `regressed`: `baseline × (1 − regression tolerance)`, from {@link
 * regressionRatioThreshold}.
 */
export function regressionThreshold(baseline: Pick<Baseline, 'value' | 'regressionTolerance'>): number {
  return round(baseline.value * regressionRatioThreshold(baseline.regressionTolerance), THRESHOLD_DIGITS);
}

/**
 * True when `run` is completed, its ceiling was reached (not merely `>= max`)
 * and it is under the regression threshold. A ceiling exactly at the
 * threshold is not a regression. A `reached: false` ceiling is only a lower
 * bound, so it never proves one.
 */
export function isRegression(run: Pick<RunResult, 'verdict' | 'ceiling'>, baseline: Baseline | null): boolean {
  const ceiling = completedCeiling(run);
  return baseline !== null && ceiling !== null && run.ceiling.reached && ceiling < regressionThreshold(baseline);
}

/**
 * `run` with its baseline set and its verdict judged against it. A failed or
 * inconclusive run keeps its verdict; a `below-floor` run stays `below-floor`
 * (the floor is the stricter, declared requirement) and its reason also names
 * the regression; an `ok` run under the threshold becomes `regressed`.
 */
export function applyRegression(run: RunResult, baseline: Baseline | null): RunResult {
  const judged = { ...run, baseline };
  if (baseline === null || !isRegression(run, baseline)) return judged;
  const sentence = describeRegression(run.ceiling.value ?? 0, baseline);
  if (run.verdict === 'below-floor') return { ...judged, verdictReason: `${run.verdictReason} ${sentence}` };
  return { ...judged, verdict: 'regressed', verdictReason: `${sentence} ${run.verdictReason}` };
}

/** `run` judged against `history`: {@link computeBaseline} then {@link applyRegression}. */
export function judgeAgainstHistory(
  run: RunResult,
  history: readonly RunResult[],
  settings: BaselineSettings,
): RunResult {
  return applyRegression(run, computeBaseline(run, history, settings));
}

/** E.g. "Ceiling 150 is 25 % under the baseline of 200 (median of 7 runs); tolerance 10 %." */
export function describeRegression(ceiling: number, baseline: Baseline): string {
  const fall = percentText(1 - ceiling / baseline.value);
  const runs = `median of ${baseline.runs} run${baseline.runs === 1 ? '' : 's'}`;
  const tolerance = percentText(baseline.regressionTolerance);
  return `Ceiling ${ceiling} is ${fall} under the baseline of ${baseline.value} (${runs}); tolerance ${tolerance}.`;
}

/** A fraction as a percentage with at most one decimal, e.g. 0.125 → "12.5 %". */
function percentText(fraction: number): string {
  return `${round(fraction * 100, 1)} %`;
}
