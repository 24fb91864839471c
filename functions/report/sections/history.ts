/**
 * The baseline and history sections of the HTML report: whether the run
 * regressed against its baseline (or why it has none), and the stored runs of
 * the same target newest first, with the change from the previous comparable
 * run and a bar of each ceiling on one scale.
 */
import {
  comparableCeilings,
  completedCeiling,
  describeRegression,
  isRegression,
  MIN_BASELINE_RUNS,
} from '../../engine/baseline.js';
import type { RunResult } from '../../engine/types.js';
import { NONE, round } from '../../engine/units.js';
import { formatBaseline, formatCeiling, formatChange, formatUtc } from '../format.js';
import { html, type SafeHtml } from '../html-escape.js';
import { buildTrend, trendScale, type TrendRow } from '../trend.js';
import { headerRow, verdictBadge, type Column } from './markup.js';

const HISTORY_COLUMNS: readonly Column[] = [
  ['started'],
  ['verdict'],
  ['ceiling', 'num'],
  ['baseline', 'num'],
  ['change', 'num'],
  ['cause'],
  ['trend', 'bar-cell'],
];

/** The baseline of `run` and whether it regressed, or why there is no baseline (counted from `history`). */
export function baselineSection(run: RunResult, history: readonly RunResult[]): SafeHtml {
  const { baseline } = run;
  if (!baseline)
    return html`<section class="baseline"><h2>Baseline</h2><p>${noBaselineReason(run, history)}</p></section>`;
  const ceiling = run.ceiling.value;
  const judgement = isRegression(run, baseline)
    ? html`<strong>The ceiling regressed.</strong> ${describeRegression(ceiling ?? 0, baseline)}`
    : html`Baseline ceiling ${formatBaseline(baseline)}. ${
        ceiling === null
          ? 'This run has no ceiling to compare.'
          : run.ceiling.reached
            ? 'Not a regression.'
            : `This run's ceiling is only a lower bound (${formatCeiling(run.ceiling)}), so it cannot show a ` +
              'regression.'
      }`;
  return html`<section class="baseline">
<h2>Baseline</h2>
<p>${judgement}</p>
</section>`;
}

/**
 * Why a run has no baseline: it measured no ceiling, or too few earlier comparable runs are stored (counted from
 * `history`).
 */
function noBaselineReason(run: RunResult, history: readonly RunResult[]): string {
  if (completedCeiling(run) === null) {
    return (
      `No baseline: this run measured no ceiling (verdict ${run.verdict}), so there is nothing to compare ` +
      'with earlier runs.'
    );
  }
  const earlier = comparableCeilings(run, history, Number.POSITIVE_INFINITY).length;
  if (earlier >= MIN_BASELINE_RUNS) return 'No baseline was set when this run was recorded.';
  const stored =
    earlier === 0
      ? 'no earlier comparable run of'
      : `only ${earlier} earlier comparable run${earlier === 1 ? '' : 's'} of`;
  return (
    `No baseline yet: ${stored} ${run.targetId} ${earlier <= 1 ? 'was' : 'were'} stored (same settings, ` +
    `completed with a ceiling); a baseline needs ${MIN_BASELINE_RUNS}.`
  );
}

/** The stored runs of `run`'s target (`history`, newest first, with `run` among them), or that it is the only one. */
export function historySection(run: RunResult, history: readonly RunResult[]): SafeHtml {
  const runs = history.some((candidate) => candidate.runId === run.runId) ? history : [run, ...history];
  if (runs.length < 2) {
    return html`<section class="history"><h2>History</h2>
<p>This is the only stored run of ${run.targetId} so far.</p></section>`;
  }
  const rows = buildTrend(runs);
  const scale = trendScale(rows);
  return html`<section class="history">
<h2>History of ${run.targetId}</h2>
<table>
${headerRow(HISTORY_COLUMNS)}
<tbody>${rows.map((row) => trendRow(row, scale, row.runId === run.runId))}</tbody>
</table>
<p class="hint">Newest first. Change is against the previous run of the same target with the same settings (same
config hash). Trend bars show each ceiling on one scale; a black tick marks the baseline.</p>
</section>`;
}

function trendRow(row: TrendRow, scale: number, current: boolean): SafeHtml {
  const change = row.changeFromPrevious === null ? NONE : formatChange(row.changeFromPrevious);
  const cells = [
    html`<td>${formatUtc(row.startedAt)}${current && html` <span class="sub">this run</span>`}</td>`,
    html`<td>${verdictBadge(row.verdict)}</td>`,
    html`<td class="num">${formatCeiling(row.ceiling)}</td>`,
    html`<td class="num">${row.baseline ?? NONE}</td>`,
    html`<td class="num">${change}</td>`,
    html`<td>${row.limitingFactor ?? NONE}</td>`,
    html`<td class="bar-cell">${trendBar(row, scale)}</td>`,
  ];
  return html`<tr class="${current ? 'current' : ''}">${cells}</tr>`;
}

/** The ceiling as a bar on the history's scale, with a tick at the baseline. */
function trendBar(row: TrendRow, scale: number): SafeHtml {
  const ceiling = `width:${round(((row.ceiling.value ?? 0) / scale) * 100, 1)}%`;
  const baseline = row.baseline === null ? null : `left:${round((row.baseline / scale) * 100, 1)}%`;
  const mark = baseline !== null && html`<span class="baseline-mark" style="${baseline}"></span>`;
  return html`<span class="trend-bar"><span class="ceiling" style="${ceiling}"></span>${mark}</span>`;
}
