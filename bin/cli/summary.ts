/**
 * Plain-words text for people: the plan before a run, the answer after it
 * (ceiling, where drops began, the cause and its evidence, a stage table)
 * and where it was stored, the history with its ceiling trend, and what
 * changed between two runs.
 * Everything shown here comes from secret-free data.
 */
import { expectedSeconds } from '../../functions/engine/plan.js';
import type { PutRunOutcome } from '../../functions/engine/run-store.js';
import type { ProbePlan, PublicSettings, RunResult } from '../../functions/engine/types.js';
import { NONE } from '../../functions/engine/units.js';
import { describeDropOnset, NO_CAUSE } from '../../functions/engine/words/cause-headline.js';
import { formatFailureClasses, formatFailureCodes } from '../../functions/engine/words/failure-phrases.js';
import {
  describeCeiling,
  explainRun,
  formatBaseline,
  formatCeiling,
  formatChange,
  formatLatency,
  formatMs,
  formatPercent,
  formatUtc,
} from '../../functions/report/format.js';
import type { FigureChange, RunComparison } from '../../functions/report/run-comparison.js';
import { buildTrend, trendScale, type TrendRow } from '../../functions/report/trend.js';

/**
 * Where a recorded run went and how to list it: `Stored in .ws-ceiling (see:
 * ws-ceiling history --target-id chat)`, `Already stored …` for a repeat.
 * `store` names the local store (none for a deployed run); `historyFlags`
 * are the flags the history command needs besides `--target-id`.
 */
export function describeStored(
  stored: PutRunOutcome,
  targetId: string,
  where: { store?: string; historyFlags: string },
): string {
  const place = where.store === undefined ? '' : ` in ${where.store}`;
  return (
    `${stored === 'written' ? 'Stored' : 'Already stored'}${place} (see: ws-ceiling history --target-id ${targetId}` +
    `${where.historyFlags})`
  );
}

/** The plan as one paragraph: stages, hold, rate, shards and expected duration. */
export function describePlan(
  plan: ProbePlan,
  settings: PublicSettings,
  url: string,
  stopsAtFirstFailure: boolean,
): string {
  const heartbeat =
    settings.heartbeat.kind === 'off'
      ? 'no heartbeat'
      : settings.heartbeat.kind === 'ping'
        ? `ping every ${settings.heartbeat.intervalSeconds} s (pong timeout ${settings.heartbeat.pongTimeoutSeconds} s)`
        : `application heartbeat every ${settings.heartbeat.intervalSeconds} s`;
  const max = plan.stages[plan.stages.length - 1]?.target ?? 0;
  return [
    `Plan for ${plan.targetId} at ${url}`,
    `  stages ${settings.stages.join(' → ')}, each held ${settings.holdSeconds} s, ${settings.connectRate} new ` +
      `connections/s, at most ${settings.maxInFlight} handshakes in flight`,
    `  ${heartbeat}, handshake timeout ${settings.handshakeTimeoutSeconds} s, ` +
      `${plan.shards.length} shard${plan.shards.length === 1 ? '' : 's'}`,
    ...connectionLines(settings),
    `  up to ${max} connections, about ${formatDuration(expectedSeconds(plan))} if every stage holds` +
      (stopsAtFirstFailure ? '; stops after the first failing stage' : ''),
  ].join('\n');
}

/** How each connection is made, when it is more than the URL and headers: the plan's extra lines. */
function connectionLines(settings: PublicSettings): string[] {
  const lines: string[] = [];
  if (settings.sourceAddresses?.length) {
    lines.push(`  leaving from ${settings.sourceAddresses.join(', ')} in turn`);
  }
  const { session, sessionUrlSource: source, sigv4 } = settings;
  if (source) {
    const rate = source.ratePerSecond === undefined ? '' : `, at most ${source.ratePerSecond}/s`;
    lines.push(
      `  URL per connection from ${source.from} -> ${source.path} (timeout ${source.timeoutSeconds} s${rate})`,
    );
  }
  if (sigv4) lines.push(`  upgrade URLs signed with SigV4 for ${sigv4.region} (${sigv4.service})`);
  if (session) {
    const count = session.initMessages;
    const sent = count === 0 ? 'no init message' : `${count} init message${count === 1 ? '' : 's'} at the upgrade`;
    const ready =
      session.readyWhen === undefined
        ? ', open at the upgrade'
        : `, open once a message matches ${session.readyWhen} (ready timeout ${session.readyTimeoutSeconds} s)`;
    lines.push(`  session: ${sent}${ready}`);
  }
  return lines;
}

/** The answer to "how many, where did drops begin, and why" in plain words, with the stage table. */
export function describeResult(run: RunResult): string {
  const lines = [`Run ${run.runId} of ${run.targetId}: ${run.verdict.toUpperCase()}`];
  lines.push(`  Ceiling:     ${describeCeiling(run)}`);
  lines.push(`  Drops began: ${describeDropOnset(run.dropOnset)}`);
  lines.push(`  Cause:       ${run.limitingFactor ? run.limitingFactor.kind : NO_CAUSE}`);
  if (run.baseline) lines.push(`  Baseline:    ${formatBaseline(run.baseline)}`);
  for (const paragraph of explainRun(run)) lines.push('', wrap(paragraph, 78, '  '));
  lines.push('');
  lines.push(stageTable(run));
  if (run.failures.total > 0) {
    lines.push('', `  Failures: ${formatFailureClasses(run.failures)}`);
    const details = formatFailureCodes(run.failures);
    if (details.length) lines.push(`            ${details.join(', ')}`);
    const retryAfter = run.limitingFactor?.evidence.retryAfter;
    if (retryAfter?.length) lines.push(`            Retry-After: ${retryAfter.join(', ')}`);
  }
  return lines.join('\n');
}

/**
 * What history says when `targetId` has no stored runs: `No runs of target
 * "nosuch" are stored. Stored targets: demo, idle.` (or that none are).
 */
export function describeNoRunsOf(targetId: string, storedTargets: readonly string[]): string {
  const others =
    storedTargets.length === 0
      ? 'No runs of any target are stored yet.'
      : `Stored targets: ${storedTargets.join(', ')}.`;
  return `No runs of target "${targetId}" are stored. ${others}`;
}

/** The latency of a stage in which no session became ready. */
const NO_LATENCY = { p50: null, p95: null, p99: null };

/** Width in characters of a full trend bar. */
const TREND_BAR_WIDTH = 20;

/**
 * Runs newest first, one line each, with the ceiling trend: the baseline, the
 * ceiling as a share of it, the change since the previous run with the same
 * settings, and a bar of the ceiling on one scale per target.
 */
export function describeHistory(runs: readonly RunResult[]): string {
  if (runs.length === 0) return 'No runs stored yet.';
  const trend = buildTrend(runs);
  const scales = new Map<string, number>();
  for (const targetId of new Set(trend.map((row) => row.targetId))) {
    scales.set(targetId, trendScale(trend.filter((row) => row.targetId === targetId)));
  }
  const header = [
    'started (UTC)',
    'target',
    'verdict',
    'ceiling',
    'baseline',
    'ratio',
    'change',
    'ceiling trend',
    'drops at',
    'cause',
    'run id',
  ];
  const rows = trend.map((row) => [
    row.startedAt.replace('T', ' ').slice(0, 19),
    row.targetId,
    row.verdict,
    formatCeiling(row.ceiling),
    row.baseline === null ? NONE : String(row.baseline),
    row.ratio === null ? NONE : formatPercent(row.ratio),
    row.changeFromPrevious === null ? NONE : formatChange(row.changeFromPrevious),
    trendBar(row, scales.get(row.targetId) ?? 1),
    row.dropOnset === null ? NONE : String(row.dropOnset),
    row.limitingFactor ?? NONE,
    row.runId,
  ]);
  const legend =
    "ceiling trend: █ the ceiling on one scale per target, | its baseline, + the plan's maximum held (no limit " +
    'found). change: against the previous run with the same settings.';
  return `${table([header, ...rows])}\n\n${wrap(legend, 78, '')}`;
}

/** The ceiling as a bar of up to TREND_BAR_WIDTH blocks, the baseline marked `|`, `+` when no limit was found. */
function trendBar(row: TrendRow, scale: number): string {
  const cells = (value: number) => Math.round((value / scale) * TREND_BAR_WIDTH);
  const filled = row.ceiling.value === null ? 0 : cells(row.ceiling.value);
  const marker = row.baseline === null ? -1 : Math.max(1, cells(row.baseline)) - 1;
  const bar = Array.from({ length: Math.max(filled, marker + 1) }, (_, index) =>
    index === marker ? '|' : index < filled ? '█' : ' ',
  );
  return `${bar.join('')}${row.ceiling.value !== null && !row.ceiling.reached ? '+' : ''}` || NONE;
}

/** What changed between two runs: settings, headline figures side by side, causes, failure mix. */
export function describeComparison(comparison: RunComparison): string {
  const { before, after } = comparison;
  const lines = [
    `Comparing run ${before.runId} (${before.targetId}, ${formatUtc(before.startedAt)})`,
    `     with run ${after.runId} (${after.targetId}, ${formatUtc(after.startedAt)})`,
    '',
    ...describeComparability(comparison),
    '',
    table(comparisonFigures(comparison)).replace(/^/gm, '  '),
    '',
    wrap(`First: ${before.limitingFactor?.summary ?? 'nothing limited the run.'}`, 78, '  '),
    wrap(`Second: ${after.limitingFactor?.summary ?? 'nothing limited the run.'}`, 78, '  '),
  ];
  if (comparison.failures.mix.length) lines.push('', failureMixTable(comparison));
  return lines.join('\n');
}

/** Whether the runs are directly comparable and, when not, the settings that differ. */
function describeComparability(comparison: RunComparison): string[] {
  if (comparison.comparable) return ['  Same target and settings: the runs are directly comparable.'];
  const changes = comparison.settingChanges.map((change) => [
    `    ${change.setting}`,
    change.before ?? '(not set)',
    '→',
    change.after ?? '(not set)',
  ]);
  return [
    '  Not directly comparable: the runs were probed with different settings.',
    changes.length ? table(changes) : '    (the settings hash differs, but no listed setting does)',
  ];
}

/** The headline figures of both runs side by side, with the change, as table rows. */
function comparisonFigures(comparison: RunComparison): string[][] {
  const { before, after } = comparison;
  return [
    ['', 'first', 'second', 'change'],
    ['verdict', before.verdict, after.verdict, before.verdict === after.verdict ? '' : 'changed'],
    ['ceiling', formatCeiling(before.ceiling), formatCeiling(after.ceiling), describeCeilingChange(comparison)],
    ['drops at', countOrNone(before.dropOnset), countOrNone(after.dropOnset), signed(comparison.dropOnset)],
    [
      'cause',
      before.limitingFactor?.kind ?? NONE,
      after.limitingFactor?.kind ?? NONE,
      comparison.limitingFactorChanged ? 'changed' : 'same',
    ],
    ...(['p50', 'p95', 'p99'] as const).map((p) => [
      `handshake ${p} ms`,
      formatMs(before.handshakeMs[p]),
      formatMs(after.handshakeMs[p]),
      signed(comparison.handshakeMs[p], (value) => value.toFixed(1)),
    ]),
    [
      'failures',
      String(comparison.failures.total.before),
      String(comparison.failures.total.after),
      signed(comparison.failures.total),
    ],
  ];
}

/** The failures of both runs by class, HTTP status, close code and error code, with the change. */
function failureMixTable(comparison: RunComparison): string {
  const names = { class: '', status: 'HTTP ', 'close-code': 'close ', 'error-code': '' } as const;
  const mix = comparison.failures.mix.map((count) => [
    `${names[count.group]}${count.key}`,
    String(count.before),
    String(count.after),
    count.difference === 0 ? '' : `${count.difference > 0 ? '+' : ''}${count.difference}`,
  ]);
  return table([['failure mix', 'first', 'second', 'change'], ...mix]).replace(/^/gm, '  ');
}

/**
 * `-50 (-33.3 %)`, or a bound of it when a run held its plan's maximum: `at least +50 (+33.3 %)`, `at most -10 (-50
 * %)`.
 */
function describeCeilingChange(comparison: RunComparison): string {
  const { difference, fraction, bound } = comparison.ceiling;
  if (difference === null || bound === null) return '';
  if (bound === 'unknown') return 'no limit found in either';
  const figure = `${difference > 0 ? '+' : ''}${difference}${fraction === null ? '' : ` (${formatChange(fraction)})`}`;
  return bound === 'exact' ? figure : `${bound === 'at-least' ? 'at least' : 'at most'} ${figure}`;
}

function signed(change: FigureChange, show: (value: number) => string = String): string {
  if (change.difference === null || change.difference === 0) return '';
  return `${change.difference > 0 ? '+' : ''}${show(change.difference)}`;
}

function countOrNone(value: number | null): string {
  return value === null ? NONE : String(value);
}

/** The stage table, with time to ready beside handshake time when the run waited for ready messages. */
function stageTable(run: RunResult): string {
  const ready = run.readyMs !== undefined;
  const header = ['stage', 'target', 'opened', 'open at end', 'failed', 'handshake ms p50/p95/p99'];
  header.push(...(ready ? ['ready ms p50/p95/p99'] : []), 'held');
  const rows = run.stages.map((stage) => [
    String(stage.index + 1),
    String(stage.target),
    String(stage.opened),
    String(stage.openAtEnd),
    String(stage.failed),
    formatLatency(stage.handshakeMs),
    ...(ready ? [formatLatency(stage.readyMs ?? NO_LATENCY)] : []),
    stage.held ? 'yes' : 'no',
  ]);
  return table([header, ...rows]).replace(/^/gm, '  ');
}

function table(rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

function formatDuration(totalSeconds: number): string {
  const seconds = Math.ceil(totalSeconds);
  if (seconds < 120) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
