/**
 * A run as a short Markdown summary for a pull request or a change ticket:
 * a status line, ceiling, drop onset and cause, the baseline, a small stage
 * table and the secret-free command that reproduces the run. Pure.
 */
import { REDACTED } from '../engine/redact.js';
import type { RunResult, Verdict } from '../engine/types.js';
import { NONE } from '../engine/units.js';
import { describeDropOnset, NO_CAUSE } from '../engine/words/cause-headline.js';
import { formatFailureClasses, formatFailureCodes } from '../engine/words/failure-phrases.js';
import { describeCeiling, explainRun, formatBaseline, formatLatency, formatUtc } from './format.js';
import { reproduceCommand, VALUE_PLACEHOLDER, valuesToFillIn } from './settings-flags.js';

/** The one status word per verdict, as a CI gate reads it. */
export const STATUS_WORDS: Record<Verdict, string> = {
  ok: 'PASS',
  regressed: 'FAIL',
  'below-floor': 'FAIL',
  inconclusive: 'INCONCLUSIVE',
  failed: 'ERROR',
  skipped: 'SKIPPED',
};

/** The Markdown summary of a run. */
export function markdownSummary(run: RunResult): string {
  const facts: Array<[string, string]> = [
    ['Ceiling', describeCeiling(run)],
    ['Drops began', describeDropOnset(run.dropOnset)],
    ['Cause', run.limitingFactor ? `\`${run.limitingFactor.kind}\`` : NO_CAUSE],
    ['Baseline', run.baseline ? formatBaseline(run.baseline) : 'none yet'],
  ];
  if (run.settings.minCeiling !== undefined) facts.push(['Floor', `${run.settings.minCeiling} (\`--min-ceiling\`)`]);
  facts.push(['Handshake ms p50 / p95 / p99', formatLatency(run.handshakeMs)]);
  if (run.readyMs) facts.push(['Time to ready ms p50 / p95 / p99', formatLatency(run.readyMs)]);
  facts.push(['Failures', describeFailures(run)]);
  const lines = [
    `### ws-ceiling ${STATUS_WORDS[run.verdict]}: ${inline(run.targetId)} (${run.verdict})`,
    '',
    ...explainRun(run).flatMap((paragraph) => [cell(paragraph), '']),
    '| | |',
    '| --- | --- |',
    ...facts.map(([name, value]) => `| ${name} | ${cell(value)} |`),
  ];
  if (run.stages.length > 0) lines.push('', ...stageTable(run));
  const command = reproduceCommand(run);
  lines.push(
    '',
    `Run \`${run.runId}\` started ${formatUtc(run.startedAt)}, probe ${run.probeVersion}, region ${run.region}. ` +
      `To reproduce${fillIn(run)}:`,
    '',
    '```sh',
    command,
    '```',
    '',
  );
  return lines.join('\n');
}

/** What the reader must put back into the reproduce command: header values, a payload, query values. */
function fillIn(run: RunResult): string {
  const { placeholders, redactedQuery } = valuesToFillIn(run);
  const missing = [
    ...(placeholders ? [`each \`${VALUE_PLACEHOLDER}\``] : []),
    ...(redactedQuery ? [`the query values shown as \`${REDACTED}\``] : []),
  ];
  return missing.length ? ` (fill in ${missing.join(' and ')})` : '';
}

function describeFailures(run: RunResult): string {
  if (run.failures.total === 0) return 'none';
  const codes = formatFailureCodes(run.failures);
  return `${formatFailureClasses(run.failures)}${codes.length ? ` (${codes.join(', ')})` : ''}`;
}

function stageTable(run: RunResult): string[] {
  return [
    '| stage | target | opened | open at end | failed | handshake ms p50 / p95 / p99 | held |',
    '| ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...run.stages.map((stage) => {
      const counts = `${stage.index + 1} | ${stage.target} | ${stage.opened} | ${stage.openAtEnd} | ${stage.failed}`;
      return `| ${counts} | ${formatLatency(stage.handshakeMs)} | ${stage.held ? 'yes' : 'no'} |`;
    }),
  ];
}

/** Text safe inside a Markdown table cell or paragraph: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|') || NONE;
}

/** Text as inline code, with a fence long enough for any backticks inside. */
function inline(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${longest ? ' ' : ''}${text}${longest ? ' ' : ''}${fence}`;
}
