/**
 * Turns the benchmark's repeated client runs into medians, probe/plain
 * ratios and the issue's targets, and prints them as a plain table.
 */
import { percentile } from '../functions/engine/percentiles.js';
import type { ClientMeasurement } from './measure.js';
import type { BenchOptions } from './options.js';

/** Targets from the issue: the probe against the plain client. */
const TARGETS = { minHandshakeRateRatio: 0.9, maxMemoryRatio: 1.2 } as const;

/** One figure: medians of both clients and their ratio (NaN when the plain median is 0). */
export interface Figure {
  label: string;
  probe: number;
  plain: number;
  ratio: number;
  decimals: number;
}

/** How the probe did against one target; `met` is null when this run could not measure it. */
export interface TargetCheck {
  target: string;
  value: string;
  met: boolean | null;
}

/** Everything the report prints. */
export interface BenchSummary {
  figures: Figure[];
  /** Runs of each client that held every connection to the end with no false drop. */
  cleanRuns: { probe: number; plain: number };
  runs: number;
  /** Failures and drops over every run, by reason. */
  reasons: { probe: Record<string, number>; plain: Record<string, number> };
  /** Runs whose ramp did not settle within its bound. */
  unsettledRuns: { probe: number; plain: number };
  targets: TargetCheck[];
}

/** Medians, ratios and target checks over every repetition of both clients. */
export function summarize(
  probe: readonly ClientMeasurement[],
  plain: readonly ClientMeasurement[],
  options: BenchOptions,
): BenchSummary {
  const figure = (label: string, decimals: number, pick: (run: ClientMeasurement) => number): Figure => {
    const probeMedian = median(probe.map(pick));
    const plainMedian = median(plain.map(pick));
    return {
      label,
      probe: probeMedian,
      plain: plainMedian,
      ratio: plainMedian === 0 ? Number.NaN : probeMedian / plainMedian,
      decimals,
    };
  };
  const figures = [
    figure('connections held at the end of the hold', 0, (run) => run.heldAtEnd),
    figure('handshakes per second while ramping', 0, (run) => run.handshakesPerSecond),
    figure('client CPU per handshake (µs)', 0, (run) => run.cpuMicrosPerHandshake),
    figure('RSS per 1,000 held connections (MiB)', 2, (run) => run.rssMiBPerThousand),
    figure('event-loop delay p99 while holding (ms)', 1, (run) => run.loopDelayP99Ms),
  ];
  const clean = (runs: readonly ClientMeasurement[]) => runs.filter(isClean).length;
  const cleanRuns = { probe: clean(probe), plain: clean(plain) };
  const [, rate, , memory] = figures;
  return {
    figures,
    cleanRuns,
    runs: probe.length,
    reasons: { probe: sumReasons(probe), plain: sumReasons(plain) },
    unsettledRuns: {
      probe: probe.filter((run) => !run.rampSettled).length,
      plain: plain.filter((run) => !run.rampSettled).length,
    },
    targets: [
      ratioTarget(
        `handshake rate ≥ ${TARGETS.minHandshakeRateRatio}× plain`,
        rate?.ratio ?? Number.NaN,
        (ratio) => ratio >= TARGETS.minHandshakeRateRatio,
      ),
      ratioTarget(
        `memory per connection ≤ ${TARGETS.maxMemoryRatio}× plain`,
        memory?.ratio ?? Number.NaN,
        (ratio) => ratio <= TARGETS.maxMemoryRatio,
      ),
      holdTarget(cleanRuns.probe, probe.length, options),
    ],
  };
}

/** The report: settings line, figure table, held line, targets. */
export function formatSummary(summary: BenchSummary, options: BenchOptions): string {
  const figures = summary.figures.map((f) => ({ ...f, first: f.probe, second: f.plain }));
  const lines = [figureTable(['figure (median)', 'probe', 'plain ws', 'probe/plain'], figures), ''];
  lines.push(heldLine('Probe', 'probe', summary, options));
  lines.push(heldLine('Plain ws', 'plain', summary, options));
  lines.push('', targetTable(summary.targets));
  return lines.join('\n');
}

/** A figure table: the header, then each figure's label, its two medians and their ratio. */
export function figureTable(
  header: readonly string[],
  figures: ReadonlyArray<{ label: string; first: number; second: number; ratio: number; decimals: number }>,
): string {
  return table([
    [...header],
    ...figures.map((f) => [
      f.label,
      formatNumber(f.first, f.decimals),
      formatNumber(f.second, f.decimals),
      formatRatio(f.ratio),
    ]),
  ]);
}

/** The targets table: each target, its value, and whether it was met. */
export function targetTable(targets: readonly TargetCheck[]): string {
  return table([
    ['target', 'value', 'result'],
    ...targets.map((t) => [t.target, t.value, t.met === null ? 'not measured' : t.met ? 'met' : 'NOT MET']),
  ]);
}

/** A median by the same nearest-rank rule as every other percentile in ws-ceiling. */
export function median(values: readonly number[]): number {
  return percentile(values, 50) ?? Number.NaN;
}

export function isClean(run: ClientMeasurement): boolean {
  return run.rampSettled && run.falseDrops === 0 && run.heldAtEnd === run.connections;
}

export function sumReasons(runs: readonly ClientMeasurement[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const run of runs)
    for (const [reason, count] of Object.entries(run.byReason)) total[reason] = (total[reason] ?? 0) + count;
  return total;
}

function ratioTarget(target: string, ratio: number, meets: (ratio: number) => boolean): TargetCheck {
  return Number.isFinite(ratio)
    ? { target, value: formatRatio(ratio), met: meets(ratio) }
    : { target, value: '–', met: null };
}

function holdTarget(cleanRuns: number, runs: number, options: BenchOptions): TargetCheck {
  const { budget } = options;
  const target =
    `holds the ${budget.bound === 'descriptors' ? 'descriptor limit' : 'ephemeral ports'} less ` +
    `headroom (${budget.limitTarget}) with no false drops`;
  const value = `${cleanRuns} of ${runs} runs clean at ${options.connections}`;
  return { target, value, met: options.connections < budget.limitTarget ? null : cleanRuns === runs };
}

/**
 * One client's line: "held N with 0 false drops in each of the R runs" only
 * when every run was clean; otherwise how many runs were clean, the false
 * drops in all by reason, and the runs whose ramp did not finish.
 */
function heldLine(who: string, client: 'probe' | 'plain', summary: BenchSummary, options: BenchOptions): string {
  const cleanRuns = summary.cleanRuns[client];
  if (cleanRuns === summary.runs)
    return `${who}: held ${options.connections} with 0 false drops in ${runsText(summary.runs)}.`;
  const reasons = summary.reasons[client];
  const falseDrops = Object.values(reasons).reduce((sum, count) => sum + count, 0);
  const detail = Object.entries(reasons)
    .map(([reason, count]) => `${reason} × ${count}`)
    .join(', ');
  const unsettled = summary.unsettledRuns[client];
  const slow = unsettled > 0 ? `; the ramp did not finish within ${options.rampTimeoutSeconds} s in ${unsettled}` : '';
  const drops = `${falseDrops} false drop${falseDrops === 1 ? '' : 's'} in all${detail ? ` (${detail})` : ''}`;
  return (
    `${who}: held all ${options.connections} with no false drop in ${cleanRuns} of ${summary.runs} runs; ${drops}` +
    `${slow}.`
  );
}

/** "the one run", or "each of the R runs". */
export function runsText(runs: number): string {
  return runs === 1 ? 'the one run' : `each of the ${runs} runs`;
}

function formatNumber(value: number, decimals: number): string {
  return Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : '–';
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '–';
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
