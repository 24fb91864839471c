/**
 * The message the record step sends to the region's on-call topic about a
 * run, readable in e-mail and in AWS Chatbot (Amazon Q Developer in chat
 * applications): when a run is `regressed`, `below-floor`, `failed` or
 * `inconclusive`, and when a target whose previous run was one of those is
 * `ok` again. It says the target and region, the ceiling against its
 * baseline or floor, the cause in one sentence (the engine's words), the run
 * id, the commands to see it, and the link to its HTML report. A plain-text
 * body and subject for e-mail; for Chatbot, its custom notification format
 * (`{"version": "1.0", "source": "custom", "content": {…}}`, see
 * https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html).
 * Pure; an adapter publishes it.
 */
import { describeRegression, regressionThreshold } from '../engine/baseline.js';
import type { RunResult, Verdict } from '../engine/types.js';
import { describeCause } from '../engine/words/cause-headline.js';
import { REPORT_RETENTION_DAYS, type ReportLocation } from './run-reports.js';

/** Verdicts that page with a message of their own. */
const ALERTING_VERDICTS: ReadonlySet<Verdict> = new Set(['regressed', 'below-floor', 'failed', 'inconclusive']);

/** SNS takes a subject of less than 100 characters. */
const MAX_SUBJECT_LENGTH = 99;

/** A custom notification as AWS Chatbot reads it. */
export interface ChatNotification {
  version: '1.0';
  source: 'custom';
  id: string;
  content: { textType: 'client-markdown'; title: string; description: string; nextSteps: string[]; keywords: string[] };
  metadata: { threadId: string; summary: string; eventType: string; additionalContext: Record<string, string> };
}

/** A message about one run, in every form it is sent in. */
export interface RunAlert {
  /** `alarm` for a run that pages, `recovered` for a target back to ok. */
  kind: 'alarm' | 'recovered';
  /** The e-mail subject (under 100 characters). */
  subject: string;
  /** The plain-text body, for e-mail. */
  text: string;
  /** The same, for AWS Chatbot. */
  chat: ChatNotification;
}

/** Where run messages go (the region's SNS topic). */
export interface RunAlerts {
  publish(alert: RunAlert): Promise<void>;
}

/** What a message says besides the run. */
export interface AlertContext {
  /** The region the run was probed from. */
  region: string;
  /** The deployment's name (the config's `name`), for the commands. */
  deployment?: string;
  /** The run's stored HTML report, when it was stored. */
  report?: ReportLocation;
}

/**
 * The message about `run`, or undefined when there is none to send: an `ok`
 * run after an `ok` one (or none), and a `skipped` run. `previous` is the
 * target's latest run before this one that was not skipped.
 */
export function runAlert(run: RunResult, previous: RunResult | undefined, context: AlertContext): RunAlert | undefined {
  if (ALERTING_VERDICTS.has(run.verdict)) return alarmAlert(run, context);
  if (run.verdict === 'ok' && previous !== undefined && ALERTING_VERDICTS.has(previous.verdict)) {
    return recoveredAlert(run, previous, context);
  }
  return undefined;
}

/** The message of a run that pages. */
function alarmAlert(run: RunResult, context: AlertContext): RunAlert {
  const where = `${run.targetId} probed from ${context.region}`;
  const verdict = run.verdict.toUpperCase();
  const headline = `${where}: ${verdict}`;
  const facts: Array<[string, string]> = [
    ['Ceiling', describeCeilingAgainstLimits(run)],
    ['Cause', describeCause(run)],
    ['Verdict', run.verdictReason],
    ['Run', `${run.runId}, started ${utc(run.startedAt)}`],
  ];
  return composeAlert('alarm', run, context, `ws-ceiling: ${headline} (${shortCeiling(run)})`, headline, facts);
}

/** The message of a target back to ok after a run that paged. */
function recoveredAlert(run: RunResult, previous: RunResult, context: AlertContext): RunAlert {
  const where = `${run.targetId} probed from ${context.region}`;
  const headline = `${where}: OK again`;
  const facts: Array<[string, string]> = [
    ['Ceiling', describeCeilingAgainstLimits(run)],
    ['Before', `run ${previous.runId} of ${utc(previous.startedAt)} was ${previous.verdict.toUpperCase()}`],
    ['Run', `${run.runId}, started ${utc(run.startedAt)}`],
  ];
  return composeAlert('recovered', run, context, `ws-ceiling: ${headline} (${shortCeiling(run)})`, headline, facts);
}

/** The three forms of a message from its parts. */
function composeAlert(
  kind: RunAlert['kind'],
  run: RunResult,
  context: AlertContext,
  subject: string,
  headline: string,
  facts: Array<[string, string]>,
): RunAlert {
  const commands = cliCommands(run, context);
  const report = context.report;
  const reportLine = report
    ? `${report.consoleUrl}\n  (the HTML report in the S3 console, kept ${REPORT_RETENTION_DAYS} days; sign in to ` +
      `this account first, or run the first command above)`
    : 'not stored (see the record step log); run the first command above';
  const width = Math.max(...facts.map(([name]) => name.length)) + 2;
  const text = [
    `ws-ceiling: ${headline}`,
    '',
    ...facts.map(([name, value]) => `${`${name}:`.padEnd(width)}${value}`),
    '',
    'See it:',
    ...commands.map((command) => `  ${command}`),
    '',
    `Report: ${reportLine}`,
  ].join('\n');
  const emoji = kind === 'recovered' ? ':large_green_circle:' : ':red_circle:';
  return {
    kind,
    subject: truncated(subject, MAX_SUBJECT_LENGTH),
    text,
    chat: {
      version: '1.0',
      source: 'custom',
      id: `${run.runId}-${kind}`,
      content: {
        textType: 'client-markdown',
        title: `${emoji} ws-ceiling: ${headline}`,
        description: [
          ...facts.map(([name, value]) => `*${name}:* ${value}`),
          ...(report
            ? [`*Report:* <${report.consoleUrl}|HTML report in the S3 console> (kept ${REPORT_RETENTION_DAYS} days)`]
            : []),
        ].join('\n'),
        nextSteps: commands.map((command) => `\`${command}\``),
        keywords: ['ws-ceiling', run.targetId, context.region, run.verdict],
      },
      metadata: {
        threadId: `ws-ceiling-${context.region}-${run.targetId}`,
        summary: truncated(subject, MAX_SUBJECT_LENGTH),
        eventType: kind === 'recovered' ? 'recovered' : run.verdict,
        additionalContext: { runId: run.runId, targetId: run.targetId, region: context.region, verdict: run.verdict },
      },
    },
  };
}

/** The run's ceiling against its baseline or floor, in words. */
function describeCeilingAgainstLimits(run: RunResult): string {
  const { ceiling, baseline } = run;
  if (run.verdict === 'failed') return 'none: the probe failed, nothing was measured';
  if (ceiling.value === null) return 'unknown: the run was inconclusive (this is not a low ceiling)';
  const floor = run.settings.minCeiling;
  const underFloor = floor !== undefined && ceiling.value < floor;
  if (baseline !== null && run.verdict === 'regressed') {
    const floorSentence = floor === undefined ? '' : ` Floor ${floor}${underFloor ? ': under it' : ''}.`;
    // "Ceiling 150 is 25 % under the baseline of 200 (median of 7 runs); tolerance 10 %.", after the label Ceiling.
    return `${describeRegression(ceiling.value, baseline).replace(/^Ceiling /, '')}${floorSentence}`;
  }
  const parts = [`${ceiling.reached ? '' : 'at least '}${ceiling.value} concurrent connections`];
  if (baseline !== null) {
    parts.push(
      `baseline ${baseline.value} (median of ${baseline.runs} runs; regressed under ${regressionThreshold(baseline)})`,
    );
  }
  if (floor !== undefined) parts.push(underFloor ? `under the floor of ${floor}` : `floor ${floor}`);
  return parts.join('; ');
}

/** The ceiling in a few words, for the subject. */
function shortCeiling(run: RunResult): string {
  if (run.ceiling.value === null) return 'no ceiling';
  const against =
    run.verdict === 'below-floor' && run.settings.minCeiling !== undefined
      ? `, floor ${run.settings.minCeiling}`
      : run.baseline !== null
        ? `, baseline ${run.baseline.value}`
        : '';
  return `ceiling ${run.ceiling.value}${against}`;
}

/** The commands that show the run, its history, and run it again. */
function cliCommands(run: RunResult, context: AlertContext): string[] {
  const deployment = context.deployment === undefined ? '' : ` --deployment ${context.deployment}`;
  const where = `--region ${context.region}${deployment}`;
  return [
    `ws-ceiling report ${run.runId} ${where}`,
    `ws-ceiling history ${where} --target-id ${run.targetId}`,
    `ws-ceiling invoke --target-id ${run.targetId} ${where}`,
  ];
}

/** An ISO time as `2026-03-01 02:00:20 UTC`. */
function utc(iso: string): string {
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}

/** `text` cut to `length` characters, with an ellipsis when cut. */
function truncated(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
