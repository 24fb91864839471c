/**
 * A run as a JUnit XML report, so any CI (GitLab, Jenkins, GitHub test
 * reporters) shows the pre-launch gates as passed, failed, errored or
 * skipped: one suite `ws-ceiling`, one test case per gate, each failure in
 * plain words. A probe that failed (config error, unreachable) is an error
 * of the `probe completed` case, as a test that could not run; a gate the
 * run did not meet is a failure. Pure: returns the XML text.
 */
import { completedCeiling, describeRegression, isRegression, regressionThreshold } from '../engine/baseline.js';
import type { RunResult } from '../engine/types.js';
import { formatCeiling } from './format.js';

/** Name of the test suite, and the prefix of every test case's class name. */
const JUNIT_SUITE = 'ws-ceiling';

/** The gates, by test case name. */
export const JUNIT_GATES = {
  completed: 'probe completed',
  floor: 'ceiling at or above floor',
  regression: 'no regression against baseline',
} as const;

/** The outcome of one gate: `error` when the probe itself failed, so the gate could not be judged. */
export type GateOutcome =
  | { status: 'passed' }
  | { status: 'failed'; message: string }
  | { status: 'error'; message: string }
  | { status: 'skipped'; message: string };

/** One gate of a run, as one JUnit test case. */
export interface Gate {
  name: string;
  outcome: GateOutcome;
}

/**
 * The gates a run is judged by: the probe completed; the ceiling is at or
 * above `--min-ceiling` (only when a floor was set); the ceiling did not fall
 * under its baseline by more than the regression tolerance, as the baseline
 * module judges it (skipped without a baseline, without a completed ceiling,
 * or when the plan's maximum held under the threshold).
 */
export function runGates(run: RunResult): Gate[] {
  const gates: Gate[] = [{ name: JUNIT_GATES.completed, outcome: completedGate(run) }];
  if (run.settings.minCeiling !== undefined) {
    gates.push({ name: JUNIT_GATES.floor, outcome: floorGate(run, run.settings.minCeiling) });
  }
  gates.push({ name: JUNIT_GATES.regression, outcome: regressionGate(run) });
  return gates;
}

/** The JUnit XML text of a run: one `ws-ceiling` suite with a test case per gate. */
export function junitReport(run: RunResult): string {
  const gates = runGates(run);
  const count = (status: GateOutcome['status']) => gates.filter((gate) => gate.outcome.status === status).length;
  const seconds = Math.max(0, (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(3);
  // Jenkins' junit-10.xsd allows `skipped` on a testsuite but not on testsuites.
  const counts = `tests="${gates.length}" failures="${count('failed')}" errors="${count('error')}" time="${seconds}"`;
  const properties: Array<[string, string]> = [
    ['runId', run.runId],
    ['targetId', run.targetId],
    ['url', run.url],
    ['region', run.region],
    ['verdict', run.verdict],
    // An empty value means none, for every figure alike.
    ['ceiling', run.ceiling.value === null ? '' : formatCeiling(run.ceiling)],
    ['dropOnset', run.dropOnset === null ? '' : String(run.dropOnset)],
    ['limitingFactor', run.limitingFactor?.kind ?? ''],
    ['probeVersion', run.probeVersion],
    ['configHash', run.configHash],
  ];
  const className = `${JUNIT_SUITE}.${run.targetId}`;
  const timestamp = run.startedAt.slice(0, 19);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${JUNIT_SUITE}" ${counts}>`,
    // Jenkins' schema wants a timestamp without a zone; the run's times are UTC.
    `  <testsuite name="${JUNIT_SUITE}" ${counts} skipped="${count('skipped')}" timestamp="${timestamp}">`,
    '    <properties>',
    ...properties.map(([name, value]) => `      <property name="${name}" value="${escapeXml(value)}"/>`),
    '    </properties>',
    ...gates.map((gate) => testCase(gate, className)),
    `    <system-out>${escapeXml(`${run.verdict}: ${run.verdictReason}`)}</system-out>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/**
 * Text made safe for XML content and attribute values: the five markup
 * characters escaped, line breaks kept as character references, and
 * characters XML 1.0 cannot carry dropped.
 */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

function testCase(gate: Gate, className: string): string {
  const open = `    <testcase name="${escapeXml(gate.name)}" classname="${escapeXml(className)}" time="0">`;
  const { outcome } = gate;
  if (outcome.status === 'passed') return `${open}</testcase>`;
  const message = escapeXml(outcome.message);
  if (outcome.status === 'skipped')
    return [open, `      <skipped message="${message}"/>`, '    </testcase>'].join('\n');
  const element = ELEMENTS[outcome.status];
  const body = `      <${element} message="${message}" type="${escapeXml(gate.name)}">${message}</${element}>`;
  return [open, body, '    </testcase>'].join('\n');
}

/** The JUnit element of a gate that did not pass. */
const ELEMENTS = { failed: 'failure', error: 'error' } as const;

function completedGate(run: RunResult): GateOutcome {
  if (run.verdict === 'failed') return { status: 'error', message: `The probe failed: ${run.verdictReason}` };
  if (run.verdict === 'inconclusive' || run.verdict === 'skipped') {
    return {
      status: 'failed',
      message: `The run was ${run.verdict}, so it does not show a ceiling: ${run.verdictReason}`,
    };
  }
  return { status: 'passed' };
}

function floorGate(run: RunResult, floor: number): GateOutcome {
  const { value, reached } = run.ceiling;
  if (value === null) {
    return {
      status: 'failed',
      message: `No ceiling was measured, so the floor of ${floor} connections is not shown to hold.`,
    };
  }
  if (value >= floor) return { status: 'passed' };
  if (!reached) {
    return {
      status: 'failed',
      message:
        `The plan's maximum of ${value} connections held, which is under the floor of ${floor}: plan ` +
        `stages up to at least ${floor} to check the floor.`,
    };
  }
  return { status: 'failed', message: `The ceiling of ${value} connections is under the floor of ${floor}.` };
}

function regressionGate(run: RunResult): GateOutcome {
  const { baseline } = run;
  if (baseline === null)
    return { status: 'skipped', message: 'No baseline yet: too few earlier comparable runs of this target.' };
  const ceiling = completedCeiling(run);
  if (ceiling === null) {
    return { status: 'skipped', message: `No ceiling was measured to compare with the baseline of ${baseline.value}.` };
  }
  if (isRegression(run, baseline)) return { status: 'failed', message: describeRegression(ceiling, baseline) };
  const threshold = regressionThreshold(baseline);
  if (!run.ceiling.reached && ceiling < threshold) {
    return {
      status: 'skipped',
      message:
        `The plan's maximum of ${ceiling} connections held, under the regression threshold of ${threshold}` +
        ` (baseline ${baseline.value}): plan stages up to at least ${threshold} to compare.`,
    };
  }
  return { status: 'passed' };
}
