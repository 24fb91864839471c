/**
 * Plain-words text for people: the plan before a run, the answer after it
 * (ceiling, where drops began, the cause and its evidence, a stage table), and
 * the history list. Everything shown here comes from secret-free data.
 */
import { expectedSeconds } from '../../functions/engine/plan.js';
import type { LatencyPercentiles, ProbePlan, PublicSettings, RunResult } from '../../functions/engine/types.js';

/** The plan as one paragraph: stages, hold, rate, shards and expected duration. */
export function describePlan(plan: ProbePlan, settings: PublicSettings, url: string, stopsAtFirstFailure: boolean): string {
  const heartbeat =
    settings.heartbeat.kind === 'off'
      ? 'no heartbeat'
      : settings.heartbeat.kind === 'ping'
        ? `ping every ${settings.heartbeat.intervalSeconds} s (pong timeout ${settings.heartbeat.pongTimeoutSeconds} s)`
        : `application heartbeat every ${settings.heartbeat.intervalSeconds} s`;
  const max = plan.stages[plan.stages.length - 1]?.target ?? 0;
  return [
    `Plan for ${plan.targetId} at ${url}`,
    `  stages ${settings.stages.join(' → ')}, each held ${settings.holdSeconds} s, ${settings.connectRate} new connections/s, at most ${settings.maxInFlight} handshakes in flight`,
    `  ${heartbeat}, handshake timeout ${settings.handshakeTimeoutSeconds} s, ${plan.shards.length} shard${plan.shards.length === 1 ? '' : 's'}`,
    `  up to ${max} connections, about ${formatDuration(expectedSeconds(plan))} if every stage holds${stopsAtFirstFailure ? '; stops after the first failing stage' : ''}`,
  ].join('\n');
}

/** The answer to "how many, where did drops begin, and why" in plain words, with the stage table. */
export function describeResult(run: RunResult): string {
  const lines = [`Run ${run.runId} of ${run.targetId}: ${run.verdict.toUpperCase()}`];
  lines.push(`  Ceiling:     ${describeCeiling(run)}`);
  lines.push(`  Drops began: ${run.dropOnset === null ? 'no drops' : `at ${run.dropOnset} open connections`}`);
  lines.push(`  Cause:       ${run.limitingFactor ? run.limitingFactor.kind : 'none: nothing failed'}`);
  lines.push('', wrap(run.verdictReason, 78, '  '), '');
  lines.push(stageTable(run));
  const failures = Object.entries(run.failures.byClass);
  if (failures.length) {
    lines.push('', `  Failures: ${failures.map(([name, count]) => `${name} ${count}`).join(', ')}`);
    const details = [
      ...Object.entries(run.failures.byStatus).map(([status, count]) => `HTTP ${status} × ${count}`),
      ...Object.entries(run.failures.byCloseCode).map(([code, count]) => `close ${code} × ${count}`),
      ...Object.entries(run.failures.byErrorCode).map(([code, count]) => `${code} × ${count}`),
    ];
    if (details.length) lines.push(`            ${details.join(', ')}`);
    const retryAfter = run.limitingFactor?.evidence.retryAfter;
    if (retryAfter?.length) lines.push(`            Retry-After: ${retryAfter.join(', ')}`);
  }
  return lines.join('\n');
}

/** The ceiling in words: a number, `>= max` when the plan's maximum held, or why there is none. */
function describeCeiling(run: Pick<RunResult, 'ceiling' | 'settings' | 'stages'>): string {
  if (run.ceiling.value === null) return 'not measured';
  const held = `${run.settings.holdSeconds} s`;
  if (!run.ceiling.reached) return `>= ${run.ceiling.value} (the plan's maximum held ${held}; no limit found)`;
  return `${run.ceiling.value} concurrent connections (held ${held} within tolerance)`;
}

/** Runs newest first, one line each. */
export function describeHistory(runs: readonly RunResult[]): string {
  if (runs.length === 0) return 'No runs stored yet.';
  const header = ['started (UTC)', 'target', 'verdict', 'ceiling', 'drops at', 'cause', 'run id'];
  const rows = runs.map((run) => [
    run.startedAt.replace('T', ' ').slice(0, 19),
    run.targetId,
    run.verdict,
    run.ceiling.value === null ? '–' : `${run.ceiling.reached ? '' : '>='}${run.ceiling.value}`,
    run.dropOnset === null ? '–' : String(run.dropOnset),
    run.limitingFactor?.kind ?? '–',
    run.runId,
  ]);
  return table([header, ...rows]);
}

function stageTable(run: RunResult): string {
  const header = ['stage', 'target', 'opened', 'open at end', 'failed', 'handshake ms p50/p95/p99', 'held'];
  const rows = run.stages.map((stage) => [
    String(stage.index + 1),
    String(stage.target),
    String(stage.opened),
    String(stage.openAtEnd),
    String(stage.failed),
    formatLatency(stage.handshakeMs),
    stage.held ? 'yes' : 'no',
  ]);
  return table([header, ...rows]).replace(/^/gm, '  ');
}

function formatLatency(latency: LatencyPercentiles): string {
  const show = (value: number | null) => (value === null ? '–' : value.toFixed(1));
  return `${show(latency.p50)} / ${show(latency.p95)} / ${show(latency.p99)}`;
}

function table(rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
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
