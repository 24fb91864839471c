/**
 * The HTML run report: one self-contained page (inline CSS and SVG, no
 * script, nothing fetched) that tells someone who reads nothing else how many
 * connections the target held and why it stopped there. From the top: the
 * cause in one plain sentence, the key figures, the timeline chart, handshake
 * latency per stage, failures by class and code, the evidence, baseline,
 * history trend, and the plan and settings. Pure: a run in, a string out.
 * Every string taken from the run is escaped by the `html` template.
 */
import { STATUS_CODES } from 'node:http';
import {
  comparableCeilings,
  completedCeiling,
  describeRegression,
  isRegression,
  MIN_BASELINE_RUNS,
} from '../engine/baseline.js';
import { REDACTED } from '../engine/redact.js';
import { MAX_MARKED_FAILURES_PER_KIND } from '../engine/run-timeline.js';
import { hasTimeline } from '../engine/stored-run.js';
import type { LimitingFactor, LimitingFactorKind, RunResult, StageSummary, Verdict } from '../engine/types.js';
import { formatMsAsSeconds, formatSeconds, NONE, round } from '../engine/units.js';
import { CAUSE_NAMES, describeCause } from '../engine/words/cause-headline.js';
import { formatFailureClasses, formatFailureCodes } from '../engine/words/failure-phrases.js';
import {
  describeCeiling,
  formatBaseline,
  formatCeiling,
  formatChange,
  formatMs,
  formatPercent,
  formatUtc,
} from './format.js';
import { html, SafeHtml, type HtmlValue } from './html-escape.js';
import { reproduceWords, VALUE_PLACEHOLDER, valuesToFillIn } from './settings-flags.js';
import { renderTimelineChart } from './timeline-chart.js';
import { buildTrend, trendScale, type TrendRow } from './trend.js';

/** What the report needs besides the run. */
export interface HtmlReportOptions {
  /** When the report was made (ISO-8601), shown in its footer. */
  generatedAt: string;
  /** Stored runs of the same target, newest first (may include this run), for the history trend. */
  history?: readonly RunResult[];
}

const VERDICT_LABELS: Record<Verdict, string> = {
  ok: 'OK',
  regressed: 'REGRESSED',
  'below-floor': 'BELOW FLOOR',
  inconclusive: 'INCONCLUSIVE',
  failed: 'FAILED',
};

/** What each failure class means, as in the README's table. */
const CLASS_MEANINGS: Record<string, string> = {
  'handshake-rejected': 'the upgrade was answered with an HTTP error status',
  'handshake-timeout': 'TCP connected, but the upgrade was never answered',
  'connect-error': 'refused, reset or timed out after other connections had opened',
  'abnormal-closure': 'an open connection ended without a close frame',
  'server-close': 'the server closed an open connection with a close frame',
  'pong-timeout': 'no pong came in time after a ping',
  'probe-limited': "the probe's own machine ran out (descriptors, ports, buffers)",
  'config-error': 'the target refused the request itself (status, auth, path or subprotocol)',
  unreachable: 'DNS, TLS, or no answer before any connection had opened',
};

/** WebSocket close codes (RFC 6455 and the IANA registry). */
const CLOSE_CODE_MEANINGS: Record<string, string> = {
  '1000': 'normal closure',
  '1001': 'going away',
  '1002': 'protocol error',
  '1003': 'unsupported data',
  '1005': 'no status code',
  '1006': 'no close frame: the connection was cut',
  '1007': 'invalid payload',
  '1008': 'policy violation',
  '1009': 'message too big',
  '1010': 'extension required',
  '1011': 'internal server error',
  '1012': 'service restart',
  '1013': 'try again later',
  '1014': 'bad gateway',
  '1015': 'TLS handshake failed',
};

/** Node connect error codes the probe meets. */
const ERROR_CODE_MEANINGS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the peer',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  ENOTFOUND: 'DNS name not found',
  EAI_AGAIN: 'DNS lookup failed for now',
  EMFILE: 'the probe process ran out of file descriptors',
  ENFILE: 'the machine ran out of file descriptors',
  EADDRNOTAVAIL: 'no local address or port free',
  EADDRINUSE: 'local address already in use',
  ENOBUFS: 'no buffer space on the probe machine',
  EHANDSHAKE: 'the server answered a handshake ws could not accept',
};

/** The whole report of `run` as one HTML document. */
export function renderHtmlReport(run: RunResult, options: HtmlReportOptions): string {
  const title = `ws-ceiling report: ${run.targetId} (${VERDICT_LABELS[run.verdict]})`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${header(run)}
${summarySection(run)}
${timelineSection(run)}
${stagesSection(run)}
${failuresSection(run)}
${evidenceSection(run)}
${baselineSection(run, options.history ?? [])}
${historySection(run, options.history ?? [])}
${settingsSection(run)}
<footer>Made by ws-ceiling at ${formatUtc(options.generatedAt)} from run ${run.runId} (probe ${run.probeVersion}). This page loads nothing from the network.</footer>
</main>
</body>
</html>
`.markup;
}

function header(run: RunResult): SafeHtml {
  const duration = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  return html`<header>
<p class="eyebrow">ws-ceiling run report</p>
<h1>${run.targetId}</h1>
<p class="meta">Run <code>${run.runId}</code> · started ${formatUtc(run.startedAt)} · ${formatDuration(duration)} · region ${run.region}<br>Target <code class="url">${run.url}</code></p>
</header>`;
}

function summarySection(run: RunResult): SafeHtml {
  const factor = run.limitingFactor;
  return html`<section class="summary verdict-${run.verdict}" aria-label="Summary">
<p class="headline"><span class="badge badge-${run.verdict}">${VERDICT_LABELS[run.verdict]}</span> ${describeCause(run)}</p>
${factor && html`<p class="reason">${run.verdictReason}</p>`}
<dl class="figures">
${figure('Ceiling', ceilingValue(run), ceilingNote(run))}
${figure('Drops began', ...dropOnsetFigure(run))}
${figure('Limiting factor', factor ? CAUSE_NAMES[factor.kind] : 'none found', factor ? factor.kind : 'every stage held')}
${run.baseline && figure('Baseline', String(run.baseline.value), run.baseline.ratio === null ? 'no ceiling to compare' : `this run is ${formatPercent(run.baseline.ratio)} of it (${formatChange(run.baseline.ratio - 1)})`)}
</dl>
</section>`;
}

function figure(name: string, value: string, note: string): SafeHtml {
  return html`<div class="figure"><dt>${name}</dt><dd><span class="value">${value}</span><span class="note">${note}</span></dd></div>`;
}

/** Kinds of limiting factor that are failures of the probe, not limits of the target. */
const PROBE_FAILURES: ReadonlySet<LimitingFactorKind> = new Set<LimitingFactorKind>([
  'probe-limited',
  'config-error',
  'unreachable',
]);

/**
 * The ceiling in the large type of its card: `150`, `>= 200`, `none`, or `>= 20` when a rate limit stopped the ramp
 * first.
 */
function ceilingValue(run: RunResult): string {
  const ceiling = formatCeiling(run.ceiling);
  if (ceiling === NONE) return 'none';
  return run.limitingFactor?.kind === 'handshake-rate-limit' && run.ceiling.reached
    ? `>= ${run.ceiling.value}`
    : ceiling;
}

function ceilingNote(run: RunResult): string {
  const floor = run.settings.minCeiling !== undefined ? `; required at least ${run.settings.minCeiling}` : '';
  const factor = run.limitingFactor;
  if (factor?.kind === 'handshake-rate-limit' && run.ceiling.value !== null) {
    const through = factor.evidence.sustainableHandshakesPerSecond;
    const rate =
      through === undefined
        ? ''
        : ` (it let about ${through} handshakes/s through; this run opened ${run.settings.connectRate}/s)`;
    return (
      `a lower bound set by the handshake rate${rate}, not a cap on open connections: ramp more slowly ` +
      `(--rate) to measure the ceiling${floor}`
    );
  }
  if (run.ceiling.value !== null) {
    const held = run.ceiling.reached
      ? `held ${run.settings.holdSeconds} s within tolerance`
      : "the plan's maximum held: no limit found";
    return `${held}${floor}`;
  }
  const kind = run.limitingFactor?.kind;
  const why =
    kind === 'idle-timeout' || kind === 'max-lifetime'
      ? 'a duration limit is not a capacity ceiling'
      : kind === 'probe-limited' || kind === 'config-error' || kind === 'unreachable'
        ? 'the probe could not measure one'
        : 'no stage held to the end';
  return `not measured: ${why}${floor}`;
}

/** The "Drops began" card: where, or why there is no such point. */
function dropOnsetFigure(run: RunResult): [string, string] {
  const kind = run.limitingFactor?.kind;
  const probeFailed = kind !== undefined && PROBE_FAILURES.has(kind);
  if (run.dropOnset !== null) {
    return [
      `at ${run.dropOnset}`,
      probeFailed ? 'open connections, when the probe itself ran out (not the target)' : 'open connections',
    ];
  }
  if (probeFailed)
    return [
      'not measured',
      `the probe failed (${CAUSE_NAMES[kind]}): nothing about the target's connections was measured`,
    ];
  return ['no drops', 'no failure of a limiting kind'];
}

function timelineSection(run: RunResult): SafeHtml {
  if (!hasTimeline(run.timeline)) {
    return html`<section class="timeline">
<h2>Timeline</h2>
<p>No timeline was recorded with this run: it was stored by an earlier version of ws-ceiling. The stages and failures below are complete.</p>
</section>`;
  }
  const marked = run.timeline.failures.length;
  const omitted = run.timeline.failuresOmitted;
  return html`<section class="timeline">
<h2>Timeline</h2>
<p class="hint">Open connections (blue) against each stage's planned ramp and target (dashed). Each band is a stage: connections are opened, then held. Symbols mark failures by class; the legend counts them by class and code, and hovering one shows its code and time.${
    omitted > 0
      ? ` ${marked} failures are marked and ${omitted} more are counted but not drawn (at most ${MAX_MARKED_FAILURES_PER_KIND}` +
        ' per class and code).'
      : ''
  }</p>
<figure class="chart">${renderTimelineChart(run)}</figure>
</section>`;
}

function stagesSection(run: RunResult): SafeHtml {
  if (run.stages.length === 0) {
    return html`<section class="stages"><h2>Handshake latency by stage</h2><p>No stage ran.</p></section>`;
  }
  const scale = Math.max(1, ...run.stages.map((stage) => stage.handshakeMs.p99 ?? 0), run.handshakeMs.p99 ?? 0);
  return html`<section class="stages">
<h2>Handshake latency by stage</h2>
<table>
<thead><tr><th>stage</th><th class="num">target</th><th class="num">opened</th><th class="num">open at end</th><th class="num">failed</th><th>held</th><th class="num">p50 ms</th><th class="num">p95 ms</th><th class="num">p99 ms</th><th class="bar-cell">p50 · p95 · p99</th></tr></thead>
<tbody>
${run.stages.map((stage) => stageRow(stage, scale))}
<tr class="total"><td colspan="6">all stages</td><td class="num">${formatMs(run.handshakeMs.p50)}</td><td class="num">${formatMs(run.handshakeMs.p95)}</td><td class="num">${formatMs(run.handshakeMs.p99)}</td><td class="bar-cell">${latencyBar(run.handshakeMs, scale)}</td></tr>
</tbody>
</table>
<p class="hint">Latency from the connection attempt to the 101 answer, of the connections that opened.${run.handshakeMs.p99 !== null ? ` Bars share one scale (longest: ${formatMs(scale)} ms).` : ''}</p>
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
  return html`<tr class="${stage.held ? 'held' : 'not-held'}"><td>${stage.index + 1}</td><td class="num">${stage.target}</td><td class="num">${stage.opened}</td><td class="num">${stage.openAtEnd}</td><td class="num">${stage.failed}${classes && html`<span class="sub">${classes}</span>`}</td><td>${stage.held ? 'yes' : html`<strong>no</strong>`}</td><td class="num">${formatMs(stage.handshakeMs.p50)}</td><td class="num">${formatMs(stage.handshakeMs.p95)}</td><td class="num">${formatMs(stage.handshakeMs.p99)}</td><td class="bar-cell">${latencyBar(stage.handshakeMs, scale)}</td></tr>`;
}

/** Three nested bars, p99 lightest and longest, on a shared scale. */
function latencyBar(latency: StageSummary['handshakeMs'], scale: number): SafeHtml | null {
  if (latency.p50 === null) return null;
  const width = (value: number | null) => `width:${Math.max(1, Math.round(((value ?? 0) / scale) * 1000) / 10)}%`;
  return html`<span class="latency-bar" title="p50 ${formatMs(latency.p50)} ms, p95 ${formatMs(latency.p95)} ms, p99 ${formatMs(latency.p99)} ms"><span class="p99" style="${width(latency.p99)}"></span><span class="p95" style="${width(latency.p95)}"></span><span class="p50" style="${width(latency.p50)}"></span></span>`;
}

function failuresSection(run: RunResult): SafeHtml {
  const { failures } = run;
  if (failures.total === 0)
    return html`<section class="failures"><h2>Failures</h2><p>No connection failed.</p></section>`;
  return html`<section class="failures">
<h2>Failures <span class="count">${failures.total}</span></h2>
<div class="tables">
${countTable('By class', 'class', failures.byClass, CLASS_MEANINGS)}
${countTable('By HTTP status', 'status', failures.byStatus, STATUS_CODES)}
${countTable('By close code', 'close code', failures.byCloseCode, CLOSE_CODE_MEANINGS, closeCodeMeaning)}
${countTable('By connect error', 'error code', failures.byErrorCode, ERROR_CODE_MEANINGS)}
</div>
</section>`;
}

function countTable(
  caption: string,
  keyName: string,
  counts: Partial<Record<string, number>>,
  meanings: Partial<Record<string, string>>,
  fallback: (key: string) => string | undefined = () => undefined,
): SafeHtml | null {
  const entries = Object.entries(counts).filter((entry): entry is [string, number] => (entry[1] ?? 0) > 0);
  if (entries.length === 0) return null;
  entries.sort((a, b) => b[1] - a[1]);
  return html`<table class="counts ${keyName.replace(/\s+/g, '-')}">
<caption>${caption}</caption>
<thead><tr><th>${keyName}</th><th class="num">count</th><th>meaning</th></tr></thead>
<tbody>${entries.map(([key, count]) => html`<tr><td><code>${key}</code></td><td class="num">${count}</td><td>${meanings[key] ?? fallback(key) ?? ''}</td></tr>`)}</tbody>
</table>`;
}

function closeCodeMeaning(code: string): string | undefined {
  const value = Number(code);
  if (value >= 4000 && value <= 4999) return 'set by the application';
  if (value >= 3000 && value <= 3999) return 'set by a library or framework';
  return undefined;
}

function evidenceSection(run: RunResult): SafeHtml {
  const factor = run.limitingFactor;
  const probeHealth = html`<div><dt>Probe event-loop delay</dt><dd>p99 ${formatMs(run.probe.eventLoopDelayP99Ms)} ms, max ${formatMs(run.probe.eventLoopDelayMaxMs)} ms (the probe's timings are trusted under 500 ms)</dd></div>`;
  if (!factor) {
    return html`<section class="evidence"><h2>Evidence</h2><p>No limiting factor: nothing failed beyond tolerance.</p><dl class="facts">${probeHealth}</dl></section>`;
  }
  return html`<section class="evidence">
<h2>Evidence of the ${CAUSE_NAMES[factor.kind]}</h2>
<p>${factor.summary}</p>
<dl class="facts">
${evidenceFacts(run, factor).map(([name, value]) => html`<div><dt>${name}</dt><dd>${value}</dd></div>`)}
${probeHealth}
</dl>
</section>`;
}

/** The evidence of a limiting factor as name–value pairs, only those it has. */
function evidenceFacts(run: RunResult, factor: LimitingFactor): Array<[string, HtmlValue]> {
  const { evidence } = factor;
  const facts: Array<[string, HtmlValue]> = [];
  const first = evidence.firstFailure;
  if (first) {
    const atMs = Date.parse(first.at) - Date.parse(run.startedAt);
    const code = [
      first.status !== undefined ? `HTTP ${first.status}` : undefined,
      first.closeCode !== undefined ? `close ${first.closeCode}` : undefined,
      first.errorCode,
    ].filter((part) => part !== undefined);
    facts.push([
      'First failure',
      `${first.failureClass}${code.length ? ` (${code.join(', ')})` : ''} at ${first.openCount} open ` +
        `connections, ${seconds(atMs / 1000)} after the start, in stage ${first.stage + 1}`,
    ]);
  }
  const counted = formatFailureCodes(evidence.failures);
  facts.push([
    'Failures of this cause',
    `${formatFailureClasses(evidence.failures) || 'none'}${counted.length ? ` (${counted.join(', ')})` : ''}`,
  ]);
  if (evidence.retryAfter?.length) facts.push(['Retry-After', evidence.retryAfter.join(', ')]);
  if (evidence.openedAfterFirstRefusal !== undefined)
    facts.push(['Opened after the first refusal', String(evidence.openedAfterFirstRefusal)]);
  if (evidence.sustainableHandshakesPerSecond !== undefined) {
    facts.push([
      'Handshakes per second while refusing',
      `${evidence.sustainableHandshakesPerSecond} (the rate the target let through)`,
    ]);
  }
  if (factor.valueSeconds !== undefined)
    facts.push([factor.kind === 'idle-timeout' ? 'Idle timeout' : 'Lifetime', seconds(factor.valueSeconds)]);
  if (evidence.idleAge) facts.push(['Age since the last frame at the drop', spread(evidence.idleAge)]);
  if (evidence.connectionAge) facts.push(['Age since open at the drop', spread(evidence.connectionAge)]);
  if (evidence.handshakeP95Ms) {
    const { first: firstStage, failing } = evidence.handshakeP95Ms;
    facts.push([
      'Handshake p95',
      `${milliseconds(firstStage)} in the first stage, ${milliseconds(failing)} in the failing stage`,
    ]);
  }
  if (evidence.eventLoopDelayMaxMs !== undefined)
    facts.push(['Worst event-loop delay', `${formatMs(evidence.eventLoopDelayMaxMs)} ms`]);
  if (evidence.message) facts.push(['Note', evidence.message]);
  return facts;
}

function spread(value: { count: number; medianSeconds: number; minSeconds: number; maxSeconds: number }): string {
  return (
    `median ${seconds(value.medianSeconds)}, from ${seconds(value.minSeconds)} to ${seconds(value.maxSeconds)}` +
    ` over ${value.count} drops`
  );
}

function baselineSection(run: RunResult, history: readonly RunResult[]): SafeHtml {
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

function historySection(run: RunResult, history: readonly RunResult[]): SafeHtml {
  const runs = history.some((candidate) => candidate.runId === run.runId) ? history : [run, ...history];
  if (runs.length < 2) {
    return html`<section class="history"><h2>History</h2><p>This is the only stored run of ${run.targetId} so far.</p></section>`;
  }
  const rows = buildTrend(runs);
  const scale = trendScale(rows);
  return html`<section class="history">
<h2>History of ${run.targetId}</h2>
<table>
<thead><tr><th>started</th><th>verdict</th><th class="num">ceiling</th><th class="num">baseline</th><th class="num">change</th><th>cause</th><th class="bar-cell">trend</th></tr></thead>
<tbody>${rows.map((row) => trendRow(row, scale, row.runId === run.runId))}</tbody>
</table>
<p class="hint">Newest first. Change is against the previous run of the same target with the same settings (same config hash). Trend bars show each ceiling on one scale; a black tick marks the baseline.</p>
</section>`;
}

function trendRow(row: TrendRow, scale: number, current: boolean): SafeHtml {
  const ceilingWidth = ((row.ceiling.value ?? 0) / scale) * 100;
  const baselineLeft = row.baseline === null ? null : (row.baseline / scale) * 100;
  return html`<tr class="${current ? 'current' : ''}"><td>${formatUtc(row.startedAt)}${current && html` <span class="sub">this run</span>`}</td><td><span class="badge badge-${row.verdict}">${VERDICT_LABELS[row.verdict]}</span></td><td class="num">${formatCeiling(row.ceiling)}</td><td class="num">${row.baseline ?? NONE}</td><td class="num">${row.changeFromPrevious === null ? NONE : formatChange(row.changeFromPrevious)}</td><td>${row.limitingFactor ?? NONE}</td><td class="bar-cell"><span class="trend-bar"><span class="ceiling" style="width:${round(ceilingWidth, 1)}%"></span>${baselineLeft !== null && html`<span class="baseline-mark" style="left:${round(baselineLeft, 1)}%"></span>`}</span></td></tr>`;
}

function settingsSection(run: RunResult): SafeHtml {
  const { settings } = run;
  const heartbeat =
    settings.heartbeat.kind === 'off'
      ? 'none'
      : settings.heartbeat.kind === 'ping'
        ? `protocol ping every ${settings.heartbeat.intervalSeconds} s, pong timeout ${settings.heartbeat.pongTimeoutSeconds}` +
          ' s'
        : `application message every ${settings.heartbeat.intervalSeconds} s`;
  const tolerance =
    settings.tolerance.kind === 'percent'
      ? `${settings.tolerance.value} % of each stage's target`
      : `${settings.tolerance.value} failures per stage`;
  const facts: Array<[string, HtmlValue]> = [
    ['Target URL', html`<code class="url">${run.url}</code> (credentials removed, query values redacted)`],
    ...(settings.simulate !== undefined
      ? [
          [
            'Simulator',
            html`the bundled simulator, <code>--simulate ${settings.simulate}</code> (its port was free for this run only)`,
          ] as [string, HtmlValue],
        ]
      : []),
    ['Stages', settings.stages.join(' → ')],
    ['Hold', `${settings.holdSeconds} s per stage`],
    [
      'Connect rate',
      `${settings.connectRate} new connections per second, at most ${settings.maxInFlight} handshakes in flight`,
    ],
    ['Handshake timeout', `${settings.handshakeTimeoutSeconds} s`],
    ['Heartbeat', heartbeat],
    [
      'Headers sent',
      settings.headerNames.length
        ? html`${settings.headerNames.map((name, i) => html`${i ? ', ' : ''}<code>${name}</code>`)} (values never stored)`
        : 'none',
    ],
    ['Subprotocols', settings.subprotocols.length ? settings.subprotocols.join(', ') : 'none'],
    ['Tolerance', tolerance],
    ['Minimum ceiling (gate)', settings.minCeiling === undefined ? 'none' : String(settings.minCeiling)],
    ['Safety cap', `${settings.maxConnections} connections`],
    ['Shards', `${settings.shards} of at most ${settings.shardSize} connections`],
    ['Ceiling in words', describeCeiling(run)],
    [
      'Run',
      html`<code>${run.runId}</code>, ${formatUtc(run.startedAt)} to ${formatUtc(run.finishedAt)}, region ${run.region}`,
    ],
    ['Probe version · config hash', html`${run.probeVersion} · <code>${run.configHash}</code>`],
  ];
  return html`<section class="settings">
<h2>Plan and settings</h2>
<dl class="facts">${facts.map(([name, value]) => html`<div><dt>${name}</dt><dd>${value}</dd></div>`)}</dl>
<p class="hint">To run it again${fillInNote(run)}:</p>
<pre class="command"><code>${reproduceWords(run).map((word, i) => html`${i ? ' ' : ''}<span class="word">${word}</span>`)}</code></pre>
</section>`;
}

/** ` (fill in each <value> and the query values shown as redacted)`, or nothing when the command is complete. */
function fillInNote(run: RunResult): SafeHtml | string {
  const { placeholders, redactedQuery } = valuesToFillIn(run);
  const missing = [
    ...(placeholders ? [html`each <code>${VALUE_PLACEHOLDER}</code>`] : []),
    ...(redactedQuery ? [html`the query values shown as <code>${REDACTED}</code>`] : []),
  ];
  return missing.length ? html` (fill in ${missing.map((part, i) => html`${i ? ' and ' : ''}${part}`)})` : '';
}

/** `12.5 ms`, or `none completed` when no handshake completed. */
function milliseconds(value: number | null): string {
  return value === null ? 'none completed' : `${formatMs(value)} ms`;
}

function seconds(value: number | undefined): string {
  return value === undefined ? NONE : formatSeconds(value);
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return NONE;
  if (ms < 120_000) return formatMsAsSeconds(ms);
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)} min ${total % 60} s`;
}

/** The page's only stylesheet: light on screen and on paper, readable from 1024 px wide. */
const STYLE = new SafeHtml(`
:root { --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --ok: #166534; --warn: #92400e; --bad: #991b1b; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; background: #f9fafb; color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; }
header .eyebrow { margin: 0; color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .06em; }
h1 { margin: 2px 0 4px; font-size: 26px; }
h2 { margin: 32px 0 10px; font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h2 .count { color: var(--muted); font-weight: normal; }
.meta { margin: 0; color: var(--muted); font-size: 13px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
code.url { word-break: break-all; }
pre { background: #f3f4f6; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
pre.command .word { display: inline-block; max-width: 100%; }
.summary { margin-top: 18px; padding: 18px 20px; border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 8px; background: #fff; }
.summary.verdict-ok { border-left-color: var(--ok); }
.summary.verdict-inconclusive { border-left-color: #d97706; }
.summary.verdict-failed, .summary.verdict-regressed, .summary.verdict-below-floor { border-left-color: var(--bad); }
.headline { margin: 0; font-size: 21px; line-height: 1.4; font-weight: 600; }
.reason { margin: 10px 0 0; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 4px; font-size: 12px; font-weight: 700; letter-spacing: .04em; vertical-align: 3px; border: 1px solid currentColor; white-space: nowrap; }
.headline .badge { font-size: 13px; }
.badge-ok { color: var(--ok); background: #dcfce7; }
.badge-inconclusive { color: var(--warn); background: #fef3c7; }
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
.latency-bar, .trend-bar { position: relative; display: block; height: 12px; margin-top: 4px; background: #f3f4f6; border-radius: 2px; }
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
footer { margin-top: 36px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@media (max-width: 700px) { main { padding: 16px; } dl.facts { grid-template-columns: 1fr; } .bar-cell { display: none; } }
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .summary, .figure { break-inside: avoid; }
  h2 { break-after: avoid; }
  section.timeline, table, tr, dl.facts div { break-inside: avoid; }
  thead { display: table-header-group; }
  .badge, .latency-bar span, .trend-bar span, tr.not-held td, tr.current td, pre { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`);
