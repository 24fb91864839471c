/**
 * The timeline section of the HTML report: the chart of open connections
 * against the planned stages with every marked failure (timeline-chart.ts),
 * and how to read it; or, for a run stored before timelines were recorded,
 * a note that there is none.
 */
import { MAX_MARKED_FAILURES_PER_KIND } from '../../engine/run-timeline.js';
import { hasTimeline } from '../../engine/stored-run.js';
import type { RunResult } from '../../engine/types.js';
import { html, type SafeHtml } from '../html-escape.js';
import { renderTimelineChart } from '../timeline-chart.js';

/** The timeline section of `run`. */
export function timelineSection(run: RunResult): SafeHtml {
  if (!hasTimeline(run.timeline)) {
    return html`<section class="timeline">
<h2>Timeline</h2>
<p>No timeline was recorded with this run: it was stored by an earlier version of ws-ceiling. The stages and failures
below are complete.</p>
</section>`;
  }
  const marked = run.timeline.failures.length;
  const omitted = run.timeline.failuresOmitted;
  const unmarked =
    omitted > 0
      ? ` ${marked} failures are marked and ${omitted} more are counted but not drawn (at most ` +
        `${MAX_MARKED_FAILURES_PER_KIND} per class and code).`
      : '';
  return html`<section class="timeline">
<h2>Timeline</h2>
<p class="hint">Open connections (blue) against each stage's planned ramp and target (dashed). Each band is a stage:
connections are opened, then held. Symbols mark failures by class; the legend counts them by class and code, and
hovering one shows its code and time.${unmarked}</p>
<figure class="chart">${renderTimelineChart(run)}</figure>
</section>`;
}
