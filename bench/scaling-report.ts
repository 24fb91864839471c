/**
 * The report of `npm run bench -- --processes N`: the probe spread over N
 * processes against the probe in one, as medians, N/1 ratios and the issue's
 * targets: the handshake rate scales (at least 0.8 × N, 1.6× for 2
 * processes), and N processes hold their budget with no false drop. When the
 * connections asked for are more than one process holds, the one-process
 * runs are not made and their figures say so.
 */
import type { ClientMeasurement } from './measure.js';
import type { BenchOptions } from './options.js';
import {
  figureTable,
  formatRatio,
  isClean,
  median,
  runsText,
  sumReasons,
  targetTable,
  type TargetCheck,
} from './report.js';

/** Share of perfect scaling the handshake rate must reach: 0.8 × N (1.6× with 2 processes). */
const MIN_SCALING = 0.8;

/** One figure: medians in one process and in N, and N/1 (NaN when either is missing). */
export interface ScalingFigure {
  label: string;
  one: number;
  many: number;
  ratio: number;
  decimals: number;
}

/** Everything the scaling report prints. */
export interface ScalingSummary {
  figures: ScalingFigure[];
  /** Runs of each that held every connection to the end with no false drop, of how many. */
  clean: { one: number; many: number };
  runs: { one: number; many: number };
  reasons: { one: Record<string, number>; many: Record<string, number> };
  targets: TargetCheck[];
}

/** Medians, ratios and target checks over the runs in one process (none when it cannot hold them) and in N. */
export function summarizeScaling(
  one: readonly ClientMeasurement[],
  many: readonly ClientMeasurement[],
  options: BenchOptions,
): ScalingSummary {
  const figure = (label: string, decimals: number, pick: (run: ClientMeasurement) => number): ScalingFigure => {
    const oneMedian = median(one.map(pick));
    const manyMedian = median(many.map(pick));
    return { label, one: oneMedian, many: manyMedian, ratio: manyMedian / oneMedian, decimals };
  };
  const figures = [
    figure('connections held at the end of the hold', 0, (run) => run.heldAtEnd),
    figure('handshakes per second while ramping', 0, (run) => run.handshakesPerSecond),
    figure('probe CPU per handshake, all processes (µs)', 0, (run) => run.cpuMicrosPerHandshake),
    figure('RSS per 1,000 held connections, all processes (MiB)', 2, (run) => run.rssMiBPerThousand),
    figure('worst event-loop delay p99 while holding (ms)', 1, (run) => run.loopDelayP99Ms),
  ];
  const rate = figures[1]?.ratio ?? Number.NaN;
  const wanted = MIN_SCALING * options.processes;
  const clean = { one: one.filter(isClean).length, many: many.filter(isClean).length };
  const budget = options.processesBudget;
  return {
    figures,
    clean,
    runs: { one: one.length, many: many.length },
    reasons: { one: sumReasons(one), many: sumReasons(many) },
    targets: [
      Number.isFinite(rate)
        ? {
            target: `handshake rate ≥ ${wanted.toFixed(1)}× one process`,
            value: formatRatio(rate),
            met: rate >= wanted,
          }
        : { target: `handshake rate ≥ ${wanted.toFixed(1)}× one process`, value: '–', met: null },
      {
        target:
          `holds the ${budget.bound === 'descriptors' ? 'descriptor limits' : 'ephemeral ports'} of ` +
          `${options.processes} processes less headroom (${budget.limitTarget}) with no false drops`,
        value: `${clean.many} of ${many.length} runs clean at ${options.connections}`,
        met: options.connections < budget.limitTarget ? null : clean.many === many.length,
      },
    ],
  };
}

/** The report: figure table, held lines, targets. */
export function formatScaling(summary: ScalingSummary, options: BenchOptions): string {
  const many = `${options.processes} processes`;
  const figures = summary.figures.map((f) => ({ ...f, first: f.one, second: f.many }));
  const lines = [figureTable(['figure (median)', '1 process', many, `${options.processes}/1`], figures), ''];
  lines.push(
    summary.runs.one === 0
      ? `1 process: not measured, as ${options.connections} connections are more than one process holds ` +
          `(${options.budget.limitTarget}).`
      : heldLine('1 process', summary.clean.one, summary.runs.one, summary.reasons.one, options),
  );
  lines.push(heldLine(many, summary.clean.many, summary.runs.many, summary.reasons.many, options));
  lines.push('', targetTable(summary.targets));
  return lines.join('\n');
}

/** "held N with 0 false drops" only when every run was clean, else the clean runs and the false drops by reason. */
function heldLine(
  who: string,
  clean: number,
  runs: number,
  reasons: Record<string, number>,
  options: BenchOptions,
): string {
  if (clean === runs) return `${who}: held ${options.connections} with 0 false drops in ${runsText(runs)}.`;
  const falseDrops = Object.values(reasons).reduce((sum, count) => sum + count, 0);
  const detail = Object.entries(reasons)
    .map(([reason, count]) => `${reason} × ${count}`)
    .join(', ');
  return (
    `${who}: held all ${options.connections} with no false drop in ${clean} of ${runs} runs; ` +
    `${falseDrops} false drop${falseDrops === 1 ? '' : 's'} in all${detail ? ` (${detail})` : ''}.`
  );
}
