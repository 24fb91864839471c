/**
 * The report's timeline chart as inline SVG, drawn from a run's stored
 * timeline: open connections over time as a step line, each stage that ran
 * as a band with its planned ramp and target, every marked failure as a
 * symbol coloured by class (hover shows its status, close or error code),
 * the first failure of the limiting kind as a vertical rule, and a legend
 * that names every kind of failure, class and code, with its count, so a
 * printout loses nothing the hover shows. Pure: data in, markup out; colours
 * are SVG attributes so the chart needs no stylesheet and prints as it shows.
 */
import type { FailureClass, RunResult, TimelineFailure } from '../engine/types.js';
import { formatMsAsSeconds, formatTenths } from '../engine/units.js';
import { describeFailureKind, failureKinds } from './failure-kinds.js';
import { html, type SafeHtml } from './html-escape.js';

/** What the chart reads from a run. */
export type ChartRun = Pick<
  RunResult,
  'timeline' | 'stages' | 'startedAt' | 'finishedAt' | 'limitingFactor' | 'failures'
> & {
  settings: Pick<RunResult['settings'], 'handshakeTimeoutSeconds' | 'session'>;
};

/** A marker's shape: refused upgrades, drops, failed sessions and failures of the probe each have their own. */
type Shape = 'triangle' | 'circle' | 'diamond' | 'square';

/** How each failure class is drawn: symbol and colour (a colour-blind-safe palette). */
const FAILURE_STYLES: Record<FailureClass, { shape: Shape; colour: string }> = {
  'handshake-rejected': { shape: 'triangle', colour: '#d55e00' },
  'handshake-timeout': { shape: 'triangle', colour: '#e69f00' },
  'connect-error': { shape: 'triangle', colour: '#b2182b' },
  'abnormal-closure': { shape: 'circle', colour: '#7b3294' },
  'server-close': { shape: 'circle', colour: '#c51b7d' },
  'pong-timeout': { shape: 'circle', colour: '#8c510a' },
  'session-rejected': { shape: 'diamond', colour: '#009e73' },
  'session-setup': { shape: 'diamond', colour: '#0072b2' },
  'probe-limited': { shape: 'square', colour: '#4d4d4d' },
  'config-error': { shape: 'square', colour: '#111111' },
  unreachable: { shape: 'square', colour: '#111111' },
};

const WIDTH = 960;
const MARGIN = { left: 64, right: 24, bottom: 52 };
const PLOT_HEIGHT = 300;
const LEGEND_ROW_HEIGHT = 20;
/** Room of a legend item besides its text: the swatch and the gap to the next item. */
const LEGEND_ITEM_PADDING = 52;
/** Width of one character of a 12 px legend label, generously. */
const LEGEND_CHARACTER_WIDTH = 6.6;
const LEGEND_TOP = 18;
/** The x axis spans at least this long, so a run that ended at once still has a readable axis. */
const MIN_SPAN_MS = 1000;
/** Width of one character of a 12 px bold label, generously, to keep labels inside the plot. */
const LABEL_CHARACTER_WIDTH = 7.5;
const OPEN_COLOUR = '#1d4ed8';
const TARGET_COLOUR = '#374151';

/** Linear maps from data to chart coordinates. */
interface Frame {
  x: (ms: number) => number;
  y: (open: number) => number;
  top: number;
  bottom: number;
  left: number;
  right: number;
  endMs: number;
  yMax: number;
}

/** The chart's accessible name. */
const CHART_TITLE = 'Open connections over time against the stage targets, with failures marked by class';

/** The chart of `run` as an `<svg class="timeline-chart">` element. */
export function renderTimelineChart(run: ChartRun): SafeHtml {
  const stages = stagesRun(run);
  const items = layOutLegend(legendItems(run));
  const legendRows = Math.max(1, ...items.map((item) => item.row + 1));
  const top = LEGEND_TOP + legendRows * LEGEND_ROW_HEIGHT + 22;
  const height = top + PLOT_HEIGHT + MARGIN.bottom;
  const frame = frameFor(run, stages, top);
  const legend = items.map((item) => {
    const entry = html`${item.swatch}<text x="30" y="4">${item.label}</text>`;
    return html`<g transform="translate(${px(item.x)} ${LEGEND_TOP + item.row * LEGEND_ROW_HEIGHT})">${entry}</g>`;
  });
  return html`<svg class="timeline-chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}"
role="img" aria-labelledby="timeline-chart-title" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
font-size="12">
<title id="timeline-chart-title">${CHART_TITLE}</title>
<g class="stage-windows">${stages.map((stage, i) => stageGroup(stage, stages[i - 1]?.target ?? 0, frame, run))}</g>
${axes(frame)}
${openLine(run.timeline.open, frame)}
${onsetRule(run, frame)}
<g class="failure-markers">${run.timeline.failures.map((failure) => marker(failure, frame))}</g>
<g class="legend" fill="#111827">${legend}</g>
</svg>`;
}

/** The stage windows of the stages that ran (the plan may hold more). */
function stagesRun(run: ChartRun): ChartRun['timeline']['stages'] {
  const ran = new Set(run.stages.map((stage) => stage.index));
  return run.timeline.stages.filter((stage) => ran.has(stage.index));
}

function frameFor(run: ChartRun, stages: ChartRun['timeline']['stages'], top: number): Frame {
  const durationMs = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  const endMs = Math.max(
    MIN_SPAN_MS,
    Number.isFinite(durationMs) ? durationMs : 0,
    ...run.timeline.open.map(([at]) => at),
    ...run.timeline.failures.map((failure) => failure.atMs),
  );
  const highest = Math.max(1, ...stages.map((stage) => stage.target), ...run.timeline.open.map(([, open]) => open));
  const step = niceStep(highest * 1.05, 5);
  const yMax = Math.ceil((highest * 1.05) / step) * step;
  const left = MARGIN.left;
  const right = WIDTH - MARGIN.right;
  const bottom = top + PLOT_HEIGHT;
  return {
    x: (ms) => left + (Math.min(ms, endMs) / endMs) * (right - left),
    y: (open) => bottom - (open / yMax) * PLOT_HEIGHT,
    top,
    bottom,
    left,
    right,
    endMs,
    yMax,
  };
}

function axes(frame: Frame): SafeHtml {
  const yTicks = ticks(frame.yMax, niceStep(frame.yMax, 5));
  const xStep = niceStep(frame.endMs / 1000, 8);
  const xTicks = ticks(frame.endMs / 1000, xStep);
  const xDecimals = decimalsOf(xStep);
  const middleY = (frame.top + frame.bottom) / 2;
  return html`<g class="axes" fill="#374151">
${yTicks.map((value) => {
  const y = px(frame.y(value));
  return html`<line x1="${frame.left}" x2="${frame.right}" y1="${y}" y2="${y}" stroke="#dcdfe4"/><text
x="${frame.left - 8}" y="${px(frame.y(value) + 4)}" text-anchor="end">${value}</text>`;
})}
${xTicks.map((seconds) => {
  const x = px(frame.x(seconds * 1000));
  return html`<line x1="${x}" x2="${x}" y1="${frame.bottom}" y2="${frame.bottom + 5}" stroke="#6b7280"/><text
x="${x}" y="${frame.bottom + 18}" text-anchor="middle">${seconds.toFixed(xDecimals)}</text>`;
})}
<line x1="${frame.left}" x2="${frame.right}" y1="${frame.bottom}" y2="${frame.bottom}" stroke="#6b7280"/>
<line x1="${frame.left}" x2="${frame.left}" y1="${frame.top}" y2="${frame.bottom}" stroke="#6b7280"/>
<text class="axis-label" x="${(frame.left + frame.right) / 2}" y="${frame.bottom + 40}"
text-anchor="middle">seconds since the run started</text>
<text class="axis-label" transform="translate(16 ${middleY}) rotate(-90)" text-anchor="middle">open connections</text>
</g>`;
}

function stageGroup(
  stage: ChartRun['timeline']['stages'][number],
  previousTarget: number,
  frame: Frame,
  run: ChartRun,
): SafeHtml {
  const summary = run.stages.find((candidate) => candidate.index === stage.index);
  const x0 = frame.x(stage.startMs);
  const x1 = frame.x(stage.holdEndsMs);
  const title = summary
    ? `Stage ${stage.index + 1}: target ${stage.target}, ${summary.opened} opened, ${summary.openAtEnd} open at ` +
      `the end, ${summary.failed} failed, ${summary.held ? 'held' : 'not held'}`
    : `Stage ${stage.index + 1}: target ${stage.target}`;
  const label = x1 - x0 >= 90 ? `stage ${stage.index + 1} · ${stage.target}` : String(stage.index + 1);
  const step =
    `M${px(x0)} ${px(frame.y(previousTarget))} L${px(frame.x(stage.rampEndsMs))} ${px(frame.y(stage.target))}` +
    ` H${px(x1)}`;
  return html`<g class="stage" data-stage="${stage.index + 1}"><title>${title}</title>
<rect class="stage-band" x="${px(x0)}" y="${frame.top}" width="${px(Math.max(0, x1 - x0))}" height="${PLOT_HEIGHT}"
fill="${stage.index % 2 === 0 ? '#f3f4f6' : '#ffffff'}"/>
<text class="stage-label" x="${px(x0 + 6)}" y="${frame.top + 14}" fill="#4b5563">${label}</text>
<path class="stage-step" d="${step}" fill="none" stroke="${TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>
</g>`;
}

function openLine(points: ReadonlyArray<[number, number]>, frame: Frame): SafeHtml {
  const first = points[0];
  if (!first) {
    return html`<text class="no-connections" x="${(frame.left + frame.right) / 2}" y="${frame.bottom - 24}"
text-anchor="middle" fill="#6b7280">No connection opened.</text>`;
  }
  let line = `M${px(frame.x(first[0]))} ${px(frame.y(first[1]))}`;
  for (const [at, open] of points.slice(1)) line += ` H${px(frame.x(at))} V${px(frame.y(open))}`;
  const last = points[points.length - 1] ?? first;
  const area = `${line} V${frame.bottom} H${px(frame.x(first[0]))} Z`;
  const peak = Math.max(...points.map(([, open]) => open));
  const title = `Open connections (peak ${peak}, ${last[1]} at ${atTime(last[0])})`;
  return html`<path class="open-area" d="${area}" fill="${OPEN_COLOUR}" fill-opacity="0.08" stroke="none"/>
<path class="open-line" d="${line}" fill="none" stroke="${OPEN_COLOUR}"
stroke-width="2"><title>${title}</title></path>`;
}

/** A vertical rule at the first failure of the limiting kind, labelled with the open count then. */
function onsetRule(run: ChartRun, frame: Frame): SafeHtml | null {
  const first = run.limitingFactor?.evidence.firstFailure;
  if (!first) return null;
  const atMs = Date.parse(first.at) - Date.parse(run.startedAt);
  if (!Number.isFinite(atMs)) return null;
  const x = frame.x(Math.max(0, atMs));
  const label = `first ${first.failureClass} at ${first.openCount} open`;
  const nearRight = x + 6 + label.length * LABEL_CHARACTER_WIDTH > frame.right;
  return html`<g class="onset-rule"><title>${label}, ${atTime(atMs)} after the start</title>
<line x1="${px(x)}" x2="${px(x)}" y1="${frame.top}" y2="${frame.bottom}" stroke="#b91c1c" stroke-width="1.5"
stroke-dasharray="2 3"/>
<text x="${px(nearRight ? x - 6 : x + 6)}" y="${frame.top + 30}" text-anchor="${nearRight ? 'end' : 'start'}"
fill="#b91c1c" font-weight="600">${label}</text>
</g>`;
}

function marker(failure: TimelineFailure, frame: Frame): SafeHtml {
  const style = FAILURE_STYLES[failure.failureClass];
  const title = `${failure.failureClass}${describeCode(failure)} at ${atTime(failure.atMs)}, ${failure.open} open`;
  const d = symbol(style.shape, frame.x(failure.atMs), frame.y(failure.open), 5);
  return html`<path class="failure-marker" data-class="${failure.failureClass}" d="${d}" fill="${style.colour}"
stroke="#ffffff" stroke-width="1"><title>${title}</title></path>`;
}

/** One legend entry: its swatch and its label, whose length sets the entry's width. */
interface LegendItem {
  swatch: SafeHtml;
  label: string;
}

/**
 * The legend: the open line, the stage target, then every kind of failure
 * (class and code) with its count. Handshake timeouts and sessions' ready
 * timeouts are marked when the timeout ran out, which the entry says, since
 * that is after the attempt.
 */
function legendItems(run: ChartRun): LegendItem[] {
  const items: LegendItem[] = [
    {
      label: 'open connections',
      swatch: html`<line x1="0" x2="22" y1="0" y2="0" stroke="${OPEN_COLOUR}" stroke-width="2"/>`,
    },
    {
      label: 'stage target (planned ramp)',
      swatch: html`<line x1="0" x2="22" y1="0" y2="0" stroke="${TARGET_COLOUR}" stroke-width="1.5"
stroke-dasharray="6 4"/>`,
    },
  ];
  for (const kind of failureKinds(run)) {
    const style = FAILURE_STYLES[kind.failureClass];
    const readyTimeout = run.settings.session?.readyTimeoutSeconds;
    const timeout =
      kind.failureClass === 'handshake-timeout'
        ? `, marked when the ${run.settings.handshakeTimeoutSeconds} s timeout ran out`
        : kind.code === 'ready timeout' && readyTimeout !== undefined
          ? `, marked when the ${readyTimeout} s ready timeout ran out`
          : '';
    const label = `${describeFailureKind(kind)}${timeout}`;
    items.push({
      label,
      swatch: html`<path class="legend-swatch" data-class="${kind.failureClass}" d="${symbol(style.shape, 11, 0, 5)}"
fill="${style.colour}"/>`,
    });
  }
  return items;
}

/** Places legend entries left to right, starting a new row when the next would pass the plot's right edge. */
function layOutLegend(items: readonly LegendItem[]): Array<LegendItem & { x: number; row: number }> {
  const right = WIDTH - MARGIN.right;
  let x = MARGIN.left;
  let row = 0;
  return items.map((item) => {
    const width = LEGEND_ITEM_PADDING + item.label.length * LEGEND_CHARACTER_WIDTH;
    if (x > MARGIN.left && x + width > right) {
      x = MARGIN.left;
      row += 1;
    }
    const placed = { ...item, x, row };
    x += width;
    return placed;
  });
}

/** `, HTTP 503`, `, close 1006` or `, ECONNRESET`: what identifies the failure beyond its class. */
function describeCode(failure: TimelineFailure): string {
  const parts = [
    failure.status !== undefined ? `HTTP ${failure.status}` : undefined,
    failure.closeCode !== undefined ? `close ${failure.closeCode}` : undefined,
    failure.errorCode,
    failure.detail,
  ].filter((part) => part !== undefined);
  return parts.length ? `, ${parts.join(', ')}` : '';
}

/** Path data of a symbol of radius `r` centred on (x, y). */
function symbol(shape: Shape, x: number, y: number, r: number): string {
  if (shape === 'triangle') return `M${px(x - r)} ${px(y - r * 0.8)} H${px(x + r)} L${px(x)} ${px(y + r)} Z`;
  if (shape === 'diamond')
    return `M${px(x)} ${px(y - r)} L${px(x + r)} ${px(y)} L${px(x)} ${px(y + r)} L${px(x - r)} ${px(y)} Z`;
  if (shape === 'square') return `M${px(x - r)} ${px(y - r)} h${2 * r} v${2 * r} h${-2 * r} Z`;
  return `M${px(x - r)} ${px(y)} a${r} ${r} 0 1 0 ${2 * r} 0 a${r} ${r} 0 1 0 ${-2 * r} 0 Z`;
}

/** A round step (1, 2 or 5 × 10^n) that cuts `span` into about `count` parts. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  if (!(raw > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  return (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude;
}

/** 0, step, 2·step, … up to `max`. */
function ticks(max: number, step: number): number[] {
  const count = Math.floor(max / step + 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toFixed(decimalsOf(step))));
}

function decimalsOf(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** A chart coordinate, to 0.1 px. */
function px(value: number): string {
  return formatTenths(value);
}

/** A time on the chart, in milliseconds since the start, as seconds to 0.01 s. */
function atTime(ms: number): string {
  return formatMsAsSeconds(ms, 2);
}
