/**
 * The top of the HTML report: the page header (target, run, duration,
 * region, URL) and the summary card with the verdict, the cause in one
 * sentence (engine/words) and the key figures: ceiling, where drops began,
 * the limiting factor and the baseline.
 */
import type { Baseline, LimitingFactorKind, RunResult } from '../../engine/types.js';
import { formatMsAsSeconds, NONE } from '../../engine/units.js';
import { CAUSE_NAMES, describeCause } from '../../engine/words/cause-headline.js';
import { formatCeiling, formatChange, formatPercent, formatUtc } from '../format.js';
import { html, type SafeHtml } from '../html-escape.js';
import { verdictBadge } from './markup.js';

/** Kinds of limiting factor that are failures of the probe, not limits of the target. */
const PROBE_FAILURES: ReadonlySet<LimitingFactorKind> = new Set<LimitingFactorKind>([
  'probe-limited',
  'config-error',
  'unreachable',
]);

/** The page header: target, run id, start, duration, region and URL. */
export function reportHeader(run: RunResult): SafeHtml {
  const duration = formatDuration(Date.parse(run.finishedAt) - Date.parse(run.startedAt));
  const started = `${formatUtc(run.startedAt)} · ${duration} · region ${run.region}`;
  return html`<header>
<p class="eyebrow">ws-ceiling run report</p>
<h1>${run.targetId}</h1>
<p class="meta">Run <code>${run.runId}</code> · started ${started}<br>Target <code class="url">${run.url}</code></p>
</header>`;
}

/** The summary card: verdict and cause, the verdict's reason, and the key figures. */
export function summarySection(run: RunResult): SafeHtml {
  const factor = run.limitingFactor;
  return html`<section class="summary verdict-${run.verdict}" aria-label="Summary">
<p class="headline">${verdictBadge(run.verdict)} ${describeCause(run)}</p>
${factor && html`<p class="reason">${run.verdictReason}</p>`}
<dl class="figures">
${figure('Ceiling', ceilingValue(run), ceilingNote(run))}
${figure('Drops began', ...dropOnsetFigure(run))}
${figure('Limiting factor', ...causeFigure(run))}
${run.baseline && figure('Baseline', ...baselineFigure(run.baseline))}
</dl>
</section>`;
}

function figure(name: string, value: string, note: string): SafeHtml {
  const shown = html`<span class="value">${value}</span><span class="note">${note}</span>`;
  return html`<div class="figure"><dt>${name}</dt><dd>${shown}</dd></div>`;
}

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

/** The "Limiting factor" card: its name and kind, or that every stage held. */
function causeFigure(run: RunResult): [string, string] {
  const factor = run.limitingFactor;
  return factor ? [CAUSE_NAMES[factor.kind], factor.kind] : ['none found', 'every stage held'];
}

/** The "Baseline" card: the baseline, and this run's ceiling as a share of it. */
function baselineFigure(baseline: Baseline): [string, string] {
  const note =
    baseline.ratio === null
      ? 'no ceiling to compare'
      : `this run is ${formatPercent(baseline.ratio)} of it (${formatChange(baseline.ratio - 1)})`;
  return [String(baseline.value), note];
}

/** A run's length: `42.5 s`, or `3 min 5 s` from two minutes on. */
function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return NONE;
  if (ms < 120_000) return formatMsAsSeconds(ms);
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)} min ${total % 60} s`;
}
