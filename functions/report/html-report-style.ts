/**
 * The HTML report's only stylesheet, inlined into the page (the page fetches
 * nothing): light on screen and on paper, readable from 1024 px wide, with
 * print rules that keep each card, table row and fact whole. One rule a line;
 * a rule too long for that lists its declarations in groups, a line each.
 */
import { SafeHtml } from './html-escape.js';

/** The stylesheet, as markup for the page's `<style>` element. */
export const REPORT_STYLE = new SafeHtml(`
:root {
  --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --ok: #166534; --warn: #92400e; --bad: #991b1b;
  --accent: #1d4ed8;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: #f9fafb; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; }
header .eyebrow { margin: 0; color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .06em; }
h1 { margin: 2px 0 4px; font-size: 26px; }
h2 { margin: 32px 0 10px; font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h2 .count { color: var(--muted); font-weight: normal; }
.meta { margin: 0; color: var(--muted); font-size: 13px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
code.url { word-break: break-all; }
pre {
  background: #f3f4f6; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; font-size: 13px;
}
pre.command .word { display: inline-block; max-width: 100%; }
.summary {
  margin-top: 18px; padding: 18px 20px; border: 1px solid var(--line); border-left: 6px solid var(--muted);
  border-radius: 8px; background: #fff;
}
.summary.verdict-ok { border-left-color: var(--ok); }
.summary.verdict-inconclusive { border-left-color: #d97706; }
.summary.verdict-failed, .summary.verdict-regressed, .summary.verdict-below-floor { border-left-color: var(--bad); }
.headline { margin: 0; font-size: 21px; line-height: 1.4; font-weight: 600; }
.reason { margin: 10px 0 0; color: var(--muted); }
.badge {
  display: inline-block; padding: 1px 8px; border-radius: 4px; font-size: 12px; font-weight: 700;
  letter-spacing: .04em; vertical-align: 3px; border: 1px solid currentColor; white-space: nowrap;
}
.headline .badge { font-size: 13px; }
.badge-ok { color: var(--ok); background: #dcfce7; }
.badge-inconclusive, .badge-skipped { color: var(--warn); background: #fef3c7; }
.badge-failed, .badge-regressed, .badge-below-floor { color: var(--bad); background: #fee2e2; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin: 16px 0 0; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.figure dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.figure dd { margin: 0; }
.figure .value { display: block; font-size: 24px; font-weight: 700; }
.figure .note { display: block; color: var(--muted); font-size: 13px; }
.hint { color: var(--muted); font-size: 13px; margin: 4px 0 8px; }
figure.chart { margin: 0; }
svg.timeline-chart { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td .sub { display: block; color: var(--muted); font-size: 12px; }
tr.not-held td { background: #fef2f2; }
tr.total td { font-weight: 600; }
tr.current td { background: #eff6ff; }
.bar-cell { width: 24%; min-width: 140px; }
.latency-bar, .trend-bar {
  position: relative; display: block; height: 12px; margin-top: 4px; background: #f3f4f6; border-radius: 2px;
}
.latency-bar span, .trend-bar span { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 2px; }
.latency-bar .p99 { background: #bfdbfe; }
.latency-bar .p95 { background: #60a5fa; }
.latency-bar .p50 { background: #1d4ed8; }
.trend-bar .ceiling { background: #60a5fa; }
.trend-bar .baseline-mark { width: 2px; background: var(--ink); top: -2px; bottom: -2px; }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.counts td:first-child { white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: minmax(180px, max-content) 1fr; gap: 4px 16px; margin: 8px 0; }
dl.facts div { display: grid; grid-column: 1 / -1; grid-template-columns: subgrid; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
footer {
  margin-top: 36px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px;
}
@media (max-width: 700px) {
  main { padding: 16px; }
  dl.facts { grid-template-columns: 1fr; }
  .bar-cell { display: none; }
}
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .summary, .figure { break-inside: avoid; }
  h2 { break-after: avoid; }
  section.timeline, table, tr, dl.facts div { break-inside: avoid; }
  thead { display: table-header-group; }
  .badge, .latency-bar span, .trend-bar span, tr.not-held td, tr.current td, pre {
    -webkit-print-color-adjust: exact; print-color-adjust: exact;
  }
}
`);
