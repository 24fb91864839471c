/**
 * The handshake latency section of the HTML report: a table of the stages
 * (target, opened, open at the end, failed, held) with each stage's p50, p95
 * and p99 handshake latency and nested bars of them on one scale, and a total
 * row for the whole run.
 */
import type { LatencyPercentiles, RunResult, StageSummary } from '../../engine/types.js';
import { formatFailureClasses } from '../../engine/words/failure-phrases.js';
import { formatMs } from '../format.js';
import { html, type SafeHtml } from '../html-escape.js';
import { headerRow, type Column } from './markup.js';

const STAGE_COLUMNS: readonly Column[] = [
  ['stage'],
  ['target', 'num'],
  ['opened', 'num'],
  ['open at end', 'num'],
  ['failed', 'num'],
  ['held'],
  ['p50 ms', 'num'],
  ['p95 ms', 'num'],
  ['p99 ms', 'num'],
  ['p50 · p95 · p99', 'bar-cell'],
];

/** The stage table of `run`, or that no stage ran. */
export function stagesSection(run: RunResult): SafeHtml {
  if (run.stages.length === 0) {
    return html`<section class="stages"><h2>Handshake latency by stage</h2><p>No stage ran.</p></section>`;
  }
  const scale = Math.max(1, ...run.stages.map((stage) => stage.handshakeMs.p99 ?? 0), run.handshakeMs.p99 ?? 0);
  const shared = run.handshakeMs.p99 !== null ? ` Bars share one scale (longest: ${formatMs(scale)} ms).` : '';
  return html`<section class="stages">
<h2>Handshake latency by stage</h2>
<table>
${headerRow(STAGE_COLUMNS)}
<tbody>
${run.stages.map((stage) => stageRow(stage, scale))}
<tr class="total"><td colspan="6">all stages</td>${latencyCells(run.handshakeMs, scale)}</tr>
</tbody>
</table>
<p class="hint">Latency from the connection attempt to the 101 answer, of the connections that opened.${shared}</p>
</section>`;
}

function stageRow(stage: StageSummary, scale: number): SafeHtml {
  const classes = formatFailureClasses({
    total: stage.failed,
    byClass: stage.failedByClass,
    byStatus: {},
    byCloseCode: {},
    byErrorCode: {},
  });
  const cells = [
    html`<td>${stage.index + 1}</td>`,
    html`<td class="num">${stage.target}</td>`,
    html`<td class="num">${stage.opened}</td>`,
    html`<td class="num">${stage.openAtEnd}</td>`,
    html`<td class="num">${stage.failed}${classes && html`<span class="sub">${classes}</span>`}</td>`,
    html`<td>${stage.held ? 'yes' : html`<strong>no</strong>`}</td>`,
    latencyCells(stage.handshakeMs, scale),
  ];
  return html`<tr class="${stage.held ? 'held' : 'not-held'}">${cells}</tr>`;
}

/** The p50, p95 and p99 cells of a row, and its bars. */
function latencyCells(latency: LatencyPercentiles, scale: number): SafeHtml {
  const cells = [
    html`<td class="num">${formatMs(latency.p50)}</td>`,
    html`<td class="num">${formatMs(latency.p95)}</td>`,
    html`<td class="num">${formatMs(latency.p99)}</td>`,
  ];
  return html`${cells}<td class="bar-cell">${latencyBar(latency, scale)}</td>`;
}

/** Three nested bars, p99 lightest and longest, on a shared scale. */
function latencyBar(latency: LatencyPercentiles, scale: number): SafeHtml | null {
  if (latency.p50 === null) return null;
  const width = (value: number | null) => `width:${Math.max(1, Math.round(((value ?? 0) / scale) * 1000) / 10)}%`;
  const title = `p50 ${formatMs(latency.p50)} ms, p95 ${formatMs(latency.p95)} ms, p99 ${formatMs(latency.p99)} ms`;
  const bars = [
    html`<span class="p99" style="${width(latency.p99)}"></span>`,
    html`<span class="p95" style="${width(latency.p95)}"></span>`,
    html`<span class="p50" style="${width(latency.p50)}"></span>`,
  ];
  return html`<span class="latency-bar" title="${title}">${bars}</span>`;
}
