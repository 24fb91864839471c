/**
 * The alarm evaluator on the stack's own alarms, read from a synthesized
 * template through the rehearsal's template reader (intrinsics resolved),
 * plus an alarm of metric math on the state machine's AWS/States metrics and
 * one on a Lambda function's errors, as a later stack may add them: each
 * takes the state CloudWatch would give it on the datapoints, with the
 * period, statistic, comparison and missing-data treatment of the template.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  evaluateAlarm,
  evaluateExpression,
  statisticOf,
  type AlarmDatapoint,
} from '../../functions/rehearsal/alarm-evaluator.js';
import { resolvedTemplate, type CloudTemplate } from '../../functions/rehearsal/cloud-template.js';
import { derivedDatapoints } from '../../functions/rehearsal/derived-metrics.js';
import { readRehearsalResources, type RehearsalResources } from '../../functions/rehearsal/template-resources.js';
import { buildApp, probeTargetOf, removeAssemblies, stackOf, TEST_REGION } from '../support/cdk.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-03-01T12:00:00Z');
let resources: RehearsalResources;

function alarm(suffix: string) {
  const found = resources.alarms.find((candidate) => candidate.name.endsWith(suffix));
  if (!found) throw new Error(`no alarm ${suffix}`);
  return found;
}

function point(name: string, value: number, at: number, dimensions: Record<string, string> = chat()): AlarmDatapoint {
  return { namespace: 'WsCeiling', name, dimensions, timestamp: at, unit: 'None', values: [{ value, count: 1 }] };
}

function chat(region = TEST_REGION): Record<string, string> {
  return { Target: 'chat', Region: region };
}

function evaluate(suffix: string, points: AlarmDatapoint[], at = NOW) {
  const { name, properties } = alarm(suffix);
  return evaluateAlarm(name, properties, points, at);
}

beforeAll(() => {
  const built = buildApp();
  const stack = stackOf(built);
  const target = probeTargetOf(stack, 'chat');
  // What a later stack may add: failed executions (metric math) and worker errors.
  new Alarm(stack, 'ExtraFailedExecutions', {
    alarmName: 'ws-ceiling-chat-failed-executions',
    metric: new MathExpression({
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      usingMetrics: {
        failed: target.run.stateMachine.metricFailed({ period: Duration.hours(1) }),
        timedOut: target.run.stateMachine.metricTimedOut({ period: Duration.hours(1) }),
        aborted: target.run.stateMachine.metricAborted({ period: Duration.hours(1) }),
      },
      period: Duration.hours(1),
    }),
    threshold: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  new Alarm(stack, 'ExtraWorkerErrors', {
    alarmName: 'ws-ceiling-chat-worker-errors',
    metric: target.worker.function.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  const template = Template.fromStack(stack).toJSON() as CloudTemplate;
  resources = readRehearsalResources(
    resolvedTemplate(template, { stackName: stack.stackName, region: TEST_REGION, account: '000000000000' }),
  );
});

afterAll(() => removeAssemblies());

describe('evaluateAlarm on the stack alarms', () => {
  it('regressed: a ratio under 1 − tolerance in the last hour is ALARM, within it OK', () => {
    expect(evaluate('-regressed', [point('CeilingToBaseline', 0.5, NOW - 60_000)])).toMatchObject({
      state: 'ALARM',
      reason: expect.stringContaining('CeilingToBaseline Minimum over the last 1 period of 1 h: 0.5') as unknown,
    });
    expect(evaluate('-regressed', [point('CeilingToBaseline', 0.9, NOW - 60_000)]).state).toBe('OK');
  });

  it('ignores missing data: with no datapoint the alarm keeps the state of its newest earlier one', () => {
    expect(evaluate('-regressed', []).state).toBe('INSUFFICIENT_DATA');
    const earlier = evaluate('-regressed', [point('CeilingToBaseline', 0.5, NOW - 5 * HOUR)]);
    expect(earlier.state).toBe('ALARM');
    expect(earlier.reason).toContain('keeps the state it took after its datapoint of 2026-03-01T07:00:00.000Z');
  });

  it('reads only datapoints of its own dimensions: another region or target does not count', () => {
    const elsewhere = [
      point('CeilingToBaseline', 0.5, NOW - 60_000, chat('us-east-1')),
      point('CeilingToBaseline', 0.5, NOW - 60_000, { Target: 'feed', Region: TEST_REGION }),
    ];
    expect(evaluate('-regressed', elsewhere).state).toBe('INSUFFICIENT_DATA');
  });

  it('below floor and probe failed take the Minimum of the hour', () => {
    expect(evaluate('-below-floor', [point('Ceiling', 100, NOW - 1000), point('Ceiling', 200, NOW - 2000)]).state).toBe(
      'ALARM',
    );
    expect(evaluate('-probe-failed', [point('ProbeSucceeded', 1, NOW - 1000)]).state).toBe('OK');
    expect(evaluate('-probe-failed', [point('ProbeSucceeded', 0, NOW - 1000)]).state).toBe('ALARM');
  });

  it('probe missing: silence breaches every period of its window; one run in it is enough', () => {
    // chat runs daily: expectedEveryHours 48, two periods of 24 h, both must breach.
    const silent = evaluate('-probe-missing', []);
    expect(silent.state).toBe('ALARM');
    expect(silent.reason).toContain('2 periods without data, treated as breaching');
    expect(evaluate('-probe-missing', [point('ProbeSucceeded', 0, NOW - 30 * HOUR)]).state).toBe('OK');
    expect(evaluate('-probe-missing', [point('ProbeSucceeded', 1, NOW - 50 * HOUR)]).state).toBe('ALARM');
  });

  it("evaluates metric math on the execution's AWS/States metrics and Lambda errors, derived from how it went", () => {
    const arn = resources.stateMachines.find((machine) => machine.name === 'ws-ceiling-chat')?.arn ?? '';
    const worker = resources.functions.find((fn) => fn.logicalId.startsWith('TargetchatWorker'))?.name ?? '';
    const execution = (status: 'SUCCEEDED' | 'FAILED', failed: boolean) =>
      derivedDatapoints({
        stateMachineArn: arn,
        status,
        startedAt: NOW - 120_000,
        endedAt: NOW - 60_000,
        calls: [{ functionName: worker, startedAt: NOW - 100_000, endedAt: NOW - 70_000, failed }],
      });
    expect(evaluate('-failed-executions', execution('FAILED', false)).state).toBe('ALARM');
    expect(evaluate('-failed-executions', execution('SUCCEEDED', false)).state).toBe('OK');
    expect(evaluate('-worker-errors', execution('SUCCEEDED', true)).state).toBe('ALARM');
    expect(evaluate('-worker-errors', execution('SUCCEEDED', false)).state).toBe('OK');
  });

  it('says it did not evaluate what it cannot, rather than guessing', () => {
    const anomaly = evaluateAlarm(
      'band',
      { ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold', ThresholdMetricId: 'ad1', Metrics: [] },
      [],
      NOW,
    );
    expect(anomaly).toMatchObject({
      state: 'INSUFFICIENT_DATA',
      reason: expect.stringMatching(/^not evaluated/) as unknown,
    });
  });
});

describe('statistics and metric math', () => {
  it('computes CloudWatch statistics over weighted samples', () => {
    const samples = [
      { value: 10, count: 1 },
      { value: 20, count: 3 },
      { value: 100, count: 1 },
    ];
    expect(statisticOf('Minimum', samples)).toBe(10);
    expect(statisticOf('Maximum', samples)).toBe(100);
    expect(statisticOf('Sum', samples)).toBe(170);
    expect(statisticOf('Average', samples)).toBe(34);
    expect(statisticOf('SampleCount', samples)).toBe(5);
    expect(statisticOf('p50', samples)).toBe(20);
    expect(statisticOf('p99', samples)).toBe(100);
  });

  it('keeps a missing period missing unless FILL fills it, and folds lists', () => {
    const byId = new Map([
      ['a', [1, null]],
      ['b', [2, 3]],
    ]);
    expect(evaluateExpression('a + b * 2', byId, 2)).toEqual([5, null]);
    expect(evaluateExpression('FILL(a, 0) + b', byId, 2)).toEqual([3, 3]);
    expect(evaluateExpression('SUM([a, b])', byId, 2)).toEqual([3, 3]);
    expect(evaluateExpression('MAX([a, b]) / 2', byId, 2)).toEqual([1, 1.5]);
    expect(() => evaluateExpression('ANOMALY_DETECTION_BAND(a)', byId, 2)).toThrow(/not evaluated/);
  });
});
