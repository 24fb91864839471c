/**
 * The HTML run report: one self-contained page (inline CSS and SVG, no
 * script, nothing fetched) that tells someone who reads nothing else how many
 * connections the target held and why it stopped there. From the top: the
 * cause in one plain sentence, the key figures, the timeline chart, handshake
 * latency per stage, failures by class and code, the evidence, baseline,
 * history trend, and the plan and settings. This module composes the page;
 * each section is a module of sections/, the stylesheet is
 * html-report-style.ts. Pure: a run in, a string out. Every string taken
 * from the run is escaped by the `html` template.
 */
import type { RunResult } from '../engine/types.js';
import { formatUtc } from './format.js';
import { html } from './html-escape.js';
import { REPORT_STYLE } from './html-report-style.js';
import { VERDICT_LABELS } from './report-tables.js';
import { evidenceSection } from './sections/evidence.js';
import { failuresSection } from './sections/failures.js';
import { reportHeader, summarySection } from './sections/headline.js';
import { baselineSection, historySection } from './sections/history.js';
import { stagesSection } from './sections/latency.js';
import { timeToReadySection } from './sections/time-to-ready.js';
import { settingsSection } from './sections/settings.js';
import { timelineSection } from './sections/timeline.js';

/** What the report needs besides the run. */
export interface HtmlReportOptions {
  /** When the report was made (ISO-8601), shown in its footer. */
  generatedAt: string;
  /** Stored runs of the same target, newest first (may include this run), for the history trend. */
  history?: readonly RunResult[];
}

/** The whole report of `run` as one HTML document. */
export function renderHtmlReport(run: RunResult, options: HtmlReportOptions): string {
  const title = `ws-ceiling report: ${run.targetId} (${VERDICT_LABELS[run.verdict]})`;
  const made = `at ${formatUtc(options.generatedAt)} from run ${run.runId} (probe ${run.probeVersion})`;
  const history = options.history ?? [];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${title}</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<main>
${reportHeader(run)}
${summarySection(run)}
${timelineSection(run)}
${stagesSection(run)}
${timeToReadySection(run)}
${failuresSection(run)}
${evidenceSection(run)}
${baselineSection(run, history)}
${historySection(run, history)}
${settingsSection(run)}
<footer>Made by ws-ceiling ${made}. This page loads nothing from the network.</footer>
</main>
</body>
</html>
`.markup;
}
