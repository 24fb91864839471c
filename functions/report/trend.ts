/**
 * The history trend: stored runs turned into one row per run with what a
 * person compares over time (ceiling, baseline, ratio, verdict, cause). Pure;
 * the terminal history (bin/cli/summary.ts) and the HTML report both draw
 * from these rows.
 */
import type { LimitingFactorKind, RunResult, Verdict } from '../engine/types.js';

/** One run on the trend, in the order given (newest first). */
export interface TrendRow {
  runId: string;
  targetId: string;
  /** ISO-8601 start time of the run. */
  startedAt: string;
  verdict: Verdict;
  /** `value` null: no ceiling claimed; `reached` false: the plan's maximum held (`>= value`). */
  ceiling: { value: number | null; reached: boolean };
  dropOnset: number | null;
  /** The baseline ceiling the run was judged against, or null when it had none. */
  baseline: number | null;
  /** This run's ceiling divided by its baseline, or null. */
  ratio: number | null;
  /** The allowed fall under the baseline as a fraction, or null without a baseline. */
  regressionTolerance: number | null;
  limitingFactor: LimitingFactorKind | null;
  /** Hash of the run's public settings: rows with equal hashes are directly comparable. */
  configHash: string;
  /**
   * Change of the ceiling against the next older run in the list, of the same
   * target with the same config hash, whose limit was found, as a fraction (-0.25 is 25 %
   * lower); null when there is no such run, or this run found no limit
   * (no ceiling, or `>=` the plan's maximum).
   */
  changeFromPrevious: number | null;
}

/**
 * One trend row per run, in the order of `runs` (stored runs come newest
 * first). Runs of several targets may be mixed; `changeFromPrevious` only
 * looks at older runs of the same target with the same settings.
 */
export function buildTrend(runs: readonly RunResult[]): TrendRow[] {
  return runs.map((run, index) => ({
    runId: run.runId,
    targetId: run.targetId,
    startedAt: run.startedAt,
    verdict: run.verdict,
    ceiling: { value: run.ceiling.value, reached: run.ceiling.reached },
    dropOnset: run.dropOnset,
    baseline: run.baseline?.value ?? null,
    ratio: run.baseline?.ratio ?? null,
    regressionTolerance: run.baseline?.regressionTolerance ?? null,
    limitingFactor: run.limitingFactor?.kind ?? null,
    configHash: run.configHash,
    changeFromPrevious: changeFromPrevious(run, runs.slice(index + 1)),
  }));
}

/**
 * The largest ceiling or baseline among `rows` (at least 1): the full length
 * of a bar or the top of a chart axis, so every row is drawn on one scale.
 */
export function trendScale(rows: readonly TrendRow[]): number {
  return Math.max(1, ...rows.flatMap((row) => [row.ceiling.value ?? 0, row.baseline ?? 0]));
}

function changeFromPrevious(run: RunResult, older: readonly RunResult[]): number | null {
  const current = limitFound(run);
  if (current === null) return null;
  const previous = older.find(
    (candidate) =>
      candidate.targetId === run.targetId && candidate.configHash === run.configHash && limitFound(candidate) !== null,
  );
  const before = previous ? limitFound(previous) : null;
  return before ? (current - before) / before : null;
}

/** The ceiling when the run found a limit (not `>=` the plan's maximum), else null. */
function limitFound(run: RunResult): number | null {
  return run.ceiling.reached ? run.ceiling.value : null;
}
