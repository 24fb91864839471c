/**
 * The time-to-ready section of the HTML report, for a run whose connections
 * set up a session (`--ready-when`): per stage and for the run, the p50, p95
 * and p99 of the time from the 101 to the ready message, of the sessions
 * that became ready. Absent for a run without a ready message.
 */
import type { LatencyPercentiles, RunResult } from '../../engine/types.js';
import { formatMs } from '../format.js';
import { html, type SafeHtml } from '../html-escape.js';
import { headerRow, type Column } from './markup.js';

const COLUMNS: readonly Column[] = [
  ['stage'],
  ['ready', 'num'],
  ['p50 ms', 'num'],
  ['p95 ms', 'num'],
  ['p99 ms', 'num'],
];

/** The time-to-ready table of `run`, or nothing when its sessions had no ready message to wait for. */
export function timeToReadySection(run: RunResult): SafeHtml | '' {
  if (run.readyMs === undefined) return '';
  const rows = run.stages.map((stage) => row(String(stage.index + 1), stage.readyMs));
  return html`<section class="stages">
<h2>Time to ready by stage</h2>
<table>
${headerRow(COLUMNS)}
<tbody>
${rows}
${row('all stages', run.readyMs)}
</tbody>
</table>
<p class="hint">Time from the 101 answer to the session's ready message (--ready-when), of the sessions that became
ready; handshake latency above ends at the 101.</p>
</section>`;
}

function row(label: string, latency: LatencyPercentiles | undefined): SafeHtml {
  const cells = [latency?.p50, latency?.p95, latency?.p99].map(
    (value) => html`<td class="num">${formatMs(value ?? null)}</td>`,
  );
  return html`<tr><td>${label}</td><td class="num">${latency ? 'yes' : 'none'}</td>${cells}</tr>`;
}
